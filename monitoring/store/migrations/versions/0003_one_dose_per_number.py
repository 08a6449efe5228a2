"""one recorded dose per dose number

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Two nurses saving the same dose at the same moment must not both succeed: a partial unique index
allows one original event per (course, dose number); corrections (rows that supersede) are exempt.
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("uq_doseevent_course_dose_original", "doseevent", ["course_id", "dose_number"], unique=True,
                    sqlite_where=sa.text("supersedes_id IS NULL"), postgresql_where=sa.text("supersedes_id IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_doseevent_course_dose_original", table_name="doseevent")
