"""oncologist dose decisions, what allowed a given dose, the prescription, allergies

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

dosedecision: the oncologist's decision on one scheduled dose (give, hold, discuss, stop) with the
pre-dose check it was made on; append-only like the rest of the clinical record (issue 15).
doseevent.check_decision / check_criteria: the check when a dose was recorded; decision_id: the
decision a dose given over the check relied on; override_by / override_reason: the authorising
clinician and reason of an override. treatmentcourse.dosing_weight_kg / fixed_dose: the
prescription. patient.allergies: free text for the patient banner.

Plain ADD COLUMN, never batch mode (batch mode rebuilds a SQLite table and would drop the
append-only triggers of 0001).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

DECISIONS = ("give", "hold", "discuss", "stop")   # frozen copy of models.DOSE_DECISIONS


def upgrade() -> None:
    op.create_table(
        "dosedecision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("check_decision", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("check_criteria", sa.JSON(), nullable=True),
        sa.Column("check_missing", sa.JSON(), nullable=True),
        sa.Column("reason_criteria", sa.JSON(), nullable=True),
        sa.Column("reason_note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["treatmentcourse.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("decision IN (" + ", ".join(f"'{d}'" for d in DECISIONS) + ")",
                           name="ck_dosedecision_decision"),
    )
    op.create_index("ix_dosedecision_course_dose", "dosedecision", ["course_id", "dose_number"])
    op.create_index(op.f("ix_dosedecision_patient_id"), "dosedecision", ["patient_id"])
    _append_only("dosedecision")
    op.add_column("doseevent", sa.Column("check_decision", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    op.add_column("doseevent", sa.Column("check_criteria", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite takes a REFERENCES clause in ADD COLUMN (default NULL) but no ALTER ... ADD CONSTRAINT,
        # which is what Alembic would emit for the foreign key.
        op.execute("ALTER TABLE doseevent ADD COLUMN decision_id INTEGER REFERENCES dosedecision (id)")
    else:
        op.add_column("doseevent", sa.Column("decision_id", sa.Integer(), sa.ForeignKey("dosedecision.id"),
                                             nullable=True))
    op.add_column("doseevent", sa.Column("override_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
    op.add_column("doseevent", sa.Column("override_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.add_column("treatmentcourse", sa.Column("dosing_weight_kg", sa.Float(), nullable=True))
    op.add_column("treatmentcourse", sa.Column("fixed_dose", sa.Float(), nullable=True))
    op.add_column("patient", sa.Column("allergies", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def _append_only(table: str) -> None:
    """The triggers of 0001 (UPDATE and DELETE refused) on a new table."""
    dialect = op.get_bind().dialect.name
    for operation in ("UPDATE", "DELETE"):
        name = f"{table}_no_{operation.lower()}"
        if dialect == "postgresql":
            op.execute(f'CREATE TRIGGER {name} BEFORE {operation} ON "{table}" '
                       f"FOR EACH ROW EXECUTE FUNCTION il2_refuse_change()")
        else:
            op.execute(f'CREATE TRIGGER {name} BEFORE {operation} ON "{table}" BEGIN '
                       f"SELECT RAISE(ABORT, '{operation} on {table} refused: this record is "
                       f"append-only; record a correction instead'); END")


def downgrade() -> None:
    op.drop_column("patient", "allergies")
    op.drop_column("treatmentcourse", "fixed_dose")
    op.drop_column("treatmentcourse", "dosing_weight_kg")
    for column in ("override_reason", "override_by", "check_criteria", "check_decision"):
        op.drop_column("doseevent", column)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE doseevent DROP COLUMN decision_id")
    else:
        op.drop_constraint("doseevent_decision_id_fkey", "doseevent", type_="foreignkey")
        op.drop_column("doseevent", "decision_id")
    op.drop_index(op.f("ix_dosedecision_patient_id"), table_name="dosedecision")
    op.drop_index("ix_dosedecision_course_dose", table_name="dosedecision")
    op.drop_table("dosedecision")   # its triggers go with it
