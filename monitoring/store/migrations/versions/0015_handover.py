"""shift handover: the outgoing nurse's recommendations and the incoming nurse's acknowledgement

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

Issue 18 item 6. handover: one per ward and shift (who first saved it, when). handovernote: the outgoing
nurse's recommendation for one patient; a change is a new row that supersedes the one before (once
only: unique supersedes_id), and one original per patient and handover (a partial unique index, as 0003
does for doses), so two nurses saving at once cannot fork it. handoveracknowledgement: the incoming
nurse's acknowledgement of the handover as it stood (its version: the number of recommendation rows
then). All three append-only like the rest of the record (UPDATE, DELETE, REPLACE and TRUNCATE refused,
as 0001, 0009 and 0013 do).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

from monitoring.store.migration_triggers import refuse_changes

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Each table with the unique keys besides id that an SQLite REPLACE could collide with (and so delete
# the older row without firing a DELETE trigger): columns, and a condition for a partial index.
UNIQUE_KEYS = {
    "handover": [(("ward_id", "shift_start"), None)],
    "handovernote": [(("supersedes_id",), None), (("handover_id", "patient_id"), "NEW.supersedes_id IS NULL")],
    "handoveracknowledgement": [(("handover_id", "acknowledged_by", "version"), None)],
}


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    when = sqlmodel.sql.sqltypes.UTCDateTime
    op.create_table(
        "handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ward_id", sa.Integer(), nullable=False),
        sa.Column("shift_start", when(), nullable=False),
        sa.Column("shift_end", when(), nullable=False),
        sa.Column("started_by", text(length=64), nullable=False),
        sa.Column("started_at", when(), nullable=False),
        sa.ForeignKeyConstraint(["ward_id"], ["ward.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ward_id", "shift_start", name="uq_handover_ward_shift"),
    )
    op.create_table(
        "handovernote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handover_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("recommendation", text(length=2000), nullable=True),
        sa.Column("written_by", text(length=64), nullable=False),
        sa.Column("written_at", when(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["handover_id"], ["handover.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["supersedes_id"], ["handovernote.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("supersedes_id"),
    )
    op.create_index(op.f("ix_handovernote_handover_id"), "handovernote", ["handover_id"])
    op.create_index("uq_handovernote_patient_original", "handovernote", ["handover_id", "patient_id"], unique=True,
                    sqlite_where=sa.text("supersedes_id IS NULL"), postgresql_where=sa.text("supersedes_id IS NULL"))
    op.create_table(
        "handoveracknowledgement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handover_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("acknowledged_by", text(length=64), nullable=False),
        sa.Column("acknowledged_at", when(), nullable=False),
        sa.ForeignKeyConstraint(["handover_id"], ["handover.id"]),
        sa.PrimaryKeyConstraint("id"),
        # One acknowledgement per person and version: a double click cannot store two.
        sa.UniqueConstraint("handover_id", "acknowledged_by", "version", name="uq_handoveracknowledgement_version"),
    )
    op.create_index(op.f("ix_handoveracknowledgement_handover_id"), "handoveracknowledgement", ["handover_id"])
    for table, keys in UNIQUE_KEYS.items():
        collisions = []
        for columns, condition in keys:
            same = " AND ".join(f"{c} = NEW.{c}" for c in columns)
            known = " AND ".join(f"NEW.{c} IS NOT NULL" for c in columns)
            partial = " AND supersedes_id IS NULL" if condition else ""
            collisions.append(f'({condition or known} AND EXISTS (SELECT 1 FROM "{table}" WHERE {same}{partial}))')
        refuse_changes(table, replace_collisions=collisions)

def downgrade() -> None:
    op.drop_index(op.f("ix_handoveracknowledgement_handover_id"), table_name="handoveracknowledgement")
    op.drop_table("handoveracknowledgement")   # their triggers go with them
    op.drop_index("uq_handovernote_patient_original", table_name="handovernote")
    op.drop_index(op.f("ix_handovernote_handover_id"), table_name="handovernote")
    op.drop_table("handovernote")
    op.drop_table("handover")
