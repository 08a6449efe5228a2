"""The clinical core: catalogue, units, scores, CTCAE grading, rules and the engine.

Pure functions over pandas frames and plain values. Imports nothing from the layers above it
(store, services, views, export, demo, dashboard): tests/test_architecture.py enforces this.
"""
