"""alert actions: snooze end and severity at action

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

alert.snoozed_until: when a snoozed alert needs attention again (read by the inbox, no job).
alertaction.severity_at_action: with level_at_action, what 'worse' is measured against, so a
snoozed, acknowledged, declined or resolved alert reopens when the finding gets worse.

Plain ADD/DROP COLUMN, never batch mode: batch mode rebuilds a SQLite table and would drop the
triggers that keep alertaction append-only (0001). Nullable columns need no rebuild on either
database (SQLite has ADD COLUMN, and DROP COLUMN since 3.35).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert", sa.Column("snoozed_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column("alertaction", sa.Column("severity_at_action", sqlmodel.sql.sqltypes.AutoString(length=16),
                                           nullable=True))


def downgrade() -> None:
    op.drop_column("alertaction", "severity_at_action")
    op.drop_column("alert", "snoozed_until")
