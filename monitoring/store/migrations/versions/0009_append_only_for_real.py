"""append-only for real: REPLACE and TRUNCATE refused

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Issue 16 item 8. The triggers of 0001 and 0007 refuse UPDATE and DELETE, but
- SQLite's REPLACE (INSERT OR REPLACE, REPLACE INTO, ON CONFLICT REPLACE) deletes the row it collides
  with without firing DELETE triggers (unless recursive_triggers is on, which the app now also sets):
  an INSERT that names an existing id, or an existing value of a unique column, is refused here
  before any conflict resolution runs;
- PostgreSQL's TRUNCATE fires no row trigger: a statement trigger refuses it.
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The append-only tables (models.APPEND_ONLY_TABLES when this migration was written; frozen here)
# and their single-column unique keys besides id (a REPLACE on them would delete the older row).
APPEND_ONLY = {"observation": ("supersedes_id", "import_key"), "doseevent": ("supersedes_id",),
               "dosedecision": (), "eligibilityanswer": (), "alertaction": (), "auditevent": ()}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, unique_columns in APPEND_ONLY.items():
        if dialect == "postgresql":
            op.execute(f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON "{table}" '
                       f"FOR EACH STATEMENT EXECUTE FUNCTION il2_refuse_change()")
            continue
        collisions = [f'EXISTS (SELECT 1 FROM "{table}" WHERE id = NEW.id)']
        collisions += [f'(NEW.{column} IS NOT NULL AND EXISTS (SELECT 1 FROM "{table}" WHERE {column} = NEW.{column}))'
                       for column in unique_columns]
        if table == "doseevent":   # the partial unique index of 0003: one original event per dose number
            collisions.append('(NEW.supersedes_id IS NULL AND EXISTS (SELECT 1 FROM "doseevent" WHERE '
                              'course_id = NEW.course_id AND dose_number = NEW.dose_number AND supersedes_id IS NULL))')
        op.execute(f'CREATE TRIGGER {table}_no_replace BEFORE INSERT ON "{table}" '
                   f"WHEN {' OR '.join(collisions)} BEGIN "
                   f"SELECT RAISE(ABORT, 'INSERT over an existing row of {table} refused: this record is "
                   f"append-only (REPLACE would overwrite it); record a correction instead'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f'DROP TRIGGER IF EXISTS {table}_no_truncate ON "{table}"')
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
