"""PostgreSQL: the role the app connects as, which owns nothing (issue 16 item 8).

The schema's owner runs the migrations (`il2-monitor db upgrade` with the owner's DATABASE_URL). The
app connects as another role with only what it needs: SELECT and INSERT on the append-only tables
(models.APPEND_ONLY_TABLES), so even a bug or an injected statement in the app cannot UPDATE, DELETE
or TRUNCATE the record, drop a trigger or alter a table (only an owner may); SELECT, INSERT, UPDATE,
DELETE on the working tables (alerts, accounts, sign-ins, drafts ...); SELECT only on the schema's
version and the server's keys (models.READ_ONLY_TABLES). Run again after each upgrade
that adds a table.
"""
from __future__ import annotations

import re

from sqlalchemy import Engine, inspect, text

from monitoring.store.models import APPEND_ONLY_TABLES, READ_ONLY_TABLES

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def grant_app_role(engine: Engine, role: str, password: str | None = None) -> dict[str, list[str]]:
    """Create the app's role if it does not exist and give it exactly the privileges above; returns
    the tables by privilege. Run as the schema's owner."""
    if engine.dialect.name != "postgresql":
        raise ValueError("An app role is a PostgreSQL setting; the embedded SQLite file has no roles.")
    if not ROLE_NAME.fullmatch(role):
        raise ValueError(f"Role name '{role}' must be lower-case letters, digits and '_' (at most 63), "
                         "starting with a letter or '_'.")
    with engine.begin() as conn:
        tables = sorted(inspect(conn).get_table_names())
        owner = conn.execute(text("SELECT current_user")).scalar()
        if role == owner:
            raise ValueError(f"'{role}' owns the schema; the app's role must be another one.")
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
        if not exists:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'))
        if password is not None:
            # Quoted by the server (format %L), never by string pasting in Python.
            statement = conn.execute(text("SELECT format('ALTER ROLE %I PASSWORD %L', :r, :p)"),
                                     {"r": role, "p": password}).scalar()
            conn.execute(text(str(statement)))
        conn.execute(text(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        granted: dict[str, list[str]] = {"SELECT, INSERT": [], "SELECT, INSERT, UPDATE, DELETE": [], "SELECT": []}
        for table in tables:
            if table == "alembic_version" or table in READ_ONLY_TABLES:
                privileges = "SELECT"
            elif table in APPEND_ONLY_TABLES:
                privileges = "SELECT, INSERT"
            else:
                privileges = "SELECT, INSERT, UPDATE, DELETE"
            conn.execute(text(f'GRANT {privileges} ON "{table}" TO "{role}"'))
            granted[privileges].append(table)
        conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"'))
    return granted
