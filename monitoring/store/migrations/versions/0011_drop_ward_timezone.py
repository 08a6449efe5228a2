"""drop ward.timezone (never read)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

Issue 17: every time is shown in IL2_TIMEZONE; the per-ward column was never read, and the README
promised an override that did not exist. A ward in another zone would need the display to follow
it everywhere (pages, exports, evidence text), which is future work.
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("ward", "timezone")
    else:   # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): no table rebuild, which foreign keys would refuse
        op.execute("ALTER TABLE ward DROP COLUMN timezone")


def downgrade() -> None:
    op.add_column("ward", sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
