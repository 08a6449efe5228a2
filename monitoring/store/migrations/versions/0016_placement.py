"""placement: where a patient has been (admitted, transferred, discharged home or out of the service)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

Issue 19 items 1 and 3. One row per move, with the ward and bed it came from and went to, when, by whom
and why. Patient.ward_id and bed_id stay the current placement every list reads (the overview, the
inbox, the handover, the reports); this table is their history, append-only like the rest of the record
(UPDATE, DELETE, REPLACE and TRUNCATE refused, as 0013 and 0015 do).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

from monitoring.store.migration_triggers import refuse_changes

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLE = "placement"


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("event", text(length=16), nullable=False),
        sa.Column("from_ward_id", sa.Integer(), nullable=True),
        sa.Column("from_bed_id", sa.Integer(), nullable=True),
        sa.Column("ward_id", sa.Integer(), nullable=True),
        sa.Column("bed_id", sa.Integer(), nullable=True),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("by", text(length=64), nullable=False),
        sa.Column("reason", text(length=500), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["from_ward_id"], ["ward.id"]),
        sa.ForeignKeyConstraint(["from_bed_id"], ["bed.id"]),
        sa.ForeignKeyConstraint(["ward_id"], ["ward.id"]),
        sa.ForeignKeyConstraint(["bed_id"], ["bed.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("event IN ('admit', 'transfer', 'discharge-home', 'discharge')",
                           name="ck_placement_event"),
    )
    op.create_index("ix_placement_patient_at", TABLE, ["patient_id", "at"])
    refuse_changes(TABLE)

def downgrade() -> None:
    op.drop_index("ix_placement_patient_at", table_name=TABLE)
    op.drop_table(TABLE)   # its triggers go with it
