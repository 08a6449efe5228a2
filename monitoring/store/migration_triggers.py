"""The append-only triggers a migration installs on a new table (as 0001, 0009 and 0013 wrote them out):
UPDATE and DELETE refused on both databases, TRUNCATE on PostgreSQL (il2_refuse_change, migration 0001),
and on SQLite an INSERT over an existing row (INSERT OR REPLACE deletes the old row first, and a DELETE
trigger does not see it). Migrations 0015 to 0017 call it: what it installs must never change; a later
migration that wants other triggers writes its own."""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


def refuse_changes(table: str, *, replace_collisions: Sequence[str] = ()) -> None:
    """Install the append-only triggers of `table`. `replace_collisions`: further SQLite conditions on NEW
    under which an INSERT would replace a row (a unique key REPLACE would also overwrite)."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for operation in ("UPDATE", "DELETE"):
        name = f"{table}_no_{operation.lower()}"
        if postgresql:
            op.execute(f'CREATE TRIGGER {name} BEFORE {operation} ON "{table}" '
                       f"FOR EACH ROW EXECUTE FUNCTION il2_refuse_change()")
        else:
            op.execute(f'CREATE TRIGGER {name} BEFORE {operation} ON "{table}" BEGIN '
                       f"SELECT RAISE(ABORT, '{operation} on {table} refused: this record is "
                       f"append-only; record a correction instead'); END")
    if postgresql:
        op.execute(f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON "{table}" '
                   f"FOR EACH STATEMENT EXECUTE FUNCTION il2_refuse_change()")
        return
    collisions = [f'EXISTS (SELECT 1 FROM "{table}" WHERE id = NEW.id)', *replace_collisions]
    op.execute(f'CREATE TRIGGER {table}_no_replace BEFORE INSERT ON "{table}" '
               f"WHEN {' OR '.join(collisions)} BEGIN "
               f"SELECT RAISE(ABORT, 'INSERT over an existing row of {table} refused: this record is "
               f"append-only (REPLACE would overwrite it); record a correction instead'); END")
