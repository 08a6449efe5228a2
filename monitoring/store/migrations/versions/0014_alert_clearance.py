"""alerts remember when their criteria were last met and when the data no longer met them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

Issue 18 item 3 (auto-resolve). alert.last_seen_at: the last moment the rule's criteria held in the
episode; alert.cleared_at / cleared_evidence: the first moment after it at which the rule was
assessed on enough data and its criteria did not hold (the engine's Clearance), with what was
measured. alerting.sync_alerts resolves an alert on them where that is allowed and reopens it when
the criteria come back. Plain ADD COLUMN (nullable; batch mode would rebuild the table on SQLite).

alertaction.action also takes the engine's own actions, 'auto-resolve' and 'reopen' (by 'engine'),
so the history shows them. The CHECK constraint is widened in place: on PostgreSQL dropped and
added again; on SQLite by the documented writable_schema procedure (as 0012 does: a wider CHECK
leaves every stored row valid, and rebuilding the table would drop its append-only triggers).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


# Frozen copies of the vocabulary of alertaction.action before and after this revision.
USER_ACTIONS = ("acknowledge", "decline", "escalate", "snooze", "resolve")
ENGINE_ACTIONS = ("auto-resolve", "reopen")


def _action_check(values: tuple[str, ...], before: tuple[str, ...]) -> None:
    allowed, old = (", ".join(f"'{v}'" for v in vs) for vs in (values, before))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint("ck_alertaction_action", "alertaction", type_="check")
        op.create_check_constraint("ck_alertaction_action", "alertaction", f"action IN ({allowed})")
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = ?",
                         (f"CHECK (action IN ({old}))", f"CHECK (action IN ({allowed}))", "alertaction"))
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def upgrade() -> None:
    op.add_column("alert", sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column("alert", sa.Column("cleared_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column("alert", sa.Column("cleared_evidence", sa.JSON(), nullable=True))
    _action_check(USER_ACTIONS + ENGINE_ACTIONS, USER_ACTIONS)


def downgrade() -> None:
    # An engine action already recorded cannot be kept under the narrower check: refused by the database.
    _action_check(USER_ACTIONS, USER_ACTIONS + ENGINE_ACTIONS)
    for column in ("cleared_evidence", "cleared_at", "last_seen_at"):
        op.drop_column("alert", column)
