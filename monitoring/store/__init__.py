"""Persistence: table models, engines and sessions, migrations, and the queries that store and read rows.

Imports the clinical core (to validate what it stores) and nothing above it.
"""
