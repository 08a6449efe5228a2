"""The transaction boundary that pages open around a user action or a page's reads.

A page opens `session_scope(engine)` (one write transaction: all or nothing) around a service call, or
`read_scope(engine)` (a read-only snapshot) around its reads, and passes the session to the services and
views it calls. These are the store's own context managers (monitoring.store.db), named here so that
the dashboard depends on the services and views only (tests/test_architecture.py).
"""
from __future__ import annotations

from monitoring.store.db import make_engine, read_scope, schema_problem, session_scope

__all__ = ["make_engine", "read_scope", "schema_problem", "session_scope"]
