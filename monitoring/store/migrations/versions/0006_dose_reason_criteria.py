"""structured reasons of held and stopped doses

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

doseevent.reason_criteria: the ids of the hold criteria (monitoring/clinical/rules/hold_criteria.py) chosen as
the reason, as JSON; doseevent.reason_note: the words the nurse typed. `reason` keeps the whole
reason as shown. A de-identified export reads the criteria and says that a note was withheld; it
never parses the reason text (issue 14). Rows recorded before this revision have neither: their
reason is withheld whole in a de-identified export.
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("doseevent", sa.Column("reason_criteria", sa.JSON(), nullable=True))
    op.add_column("doseevent", sa.Column("reason_note", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): batch mode would rebuild doseevent without its append-only triggers.
    op.drop_column("doseevent", "reason_note")
    op.drop_column("doseevent", "reason_criteria")
