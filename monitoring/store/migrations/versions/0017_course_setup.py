"""course set-up: indication, more baselines with their sources, end of course, next cycle, eligibility sign-off

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

Issue 19 items 2 and 3 (the course parts). treatmentcourse gains the indication (stage, prior surgery, the
combination, after TIL), the ANC, bilirubin, ALT and AST baselines, where each baseline came from
(baseline_sources: a result with its time, typed, or carried from the previous cycle), the previous
cycle's id, and the end of the course (when, by whom, the reason). Plain ADD COLUMN, never batch mode.

eligibilitysignoff: the oncologist's sign-off of a course's eligibility screen ('eligible', 'eligible after
discussion' with the reason, 'not eligible'); append-only like the rest of the record (a new sign-off
supersedes by being later). A dose is recorded only on a course signed off eligible
(monitoring.services.doses.record); every course that exists before this migration is signed off here by
'migration', with a note saying it predates the sign-off, so a ward running the monitor keeps working.
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

from monitoring.store.migration_triggers import refuse_changes

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

MIGRATION_NOTE = ("Course started before the eligibility sign-off existed (migration 0017): signed off so that "
                  "its doses can still be recorded; the screen's answers are those recorded with the course.")
COURSE_COLUMNS = (
    ("indication_stage", sqlmodel.sql.sqltypes.AutoString(length=16)),
    ("prior_surgery", sa.Boolean()),
    ("combination", sqlmodel.sql.sqltypes.AutoString(length=16)),
    ("after_til", sa.Boolean()),
    ("baseline_anc_10e9_l", sa.Float()),
    ("baseline_bilirubin_mg_dl", sa.Float()),
    ("baseline_alt_u_l", sa.Float()),
    ("baseline_ast_u_l", sa.Float()),
    ("baseline_sources", sa.JSON()),
    ("ended_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    ("ended_by", sqlmodel.sql.sqltypes.AutoString(length=64)),
    ("end_reason", sqlmodel.sql.sqltypes.AutoString(length=16)),
    ("end_note", sqlmodel.sql.sqltypes.AutoString()),
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, kind in COURSE_COLUMNS:
        op.add_column("treatmentcourse", sa.Column(name, kind, nullable=True))
    if dialect == "sqlite":
        # SQLite takes a REFERENCES clause in ADD COLUMN (default NULL), not ALTER ... ADD CONSTRAINT (as 0007).
        op.execute("ALTER TABLE treatmentcourse ADD COLUMN previous_course_id INTEGER REFERENCES treatmentcourse (id)")
    else:
        op.add_column("treatmentcourse", sa.Column("previous_course_id", sa.Integer(),
                                                   sa.ForeignKey("treatmentcourse.id"), nullable=True))
    op.create_table(
        "eligibilitysignoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("answer_ids", sa.JSON(), nullable=True),
        sa.Column("signed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["treatmentcourse.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_eligibilitysignoff_course_id"), "eligibilitysignoff", ["course_id"])
    refuse_changes("eligibilitysignoff")
    # Every course that exists now: signed off by 'migration', honestly labelled (answer_ids NULL: the
    # screen it stood on is whatever the course had).
    signoff = sa.table("eligibilitysignoff", sa.column("course_id", sa.Integer()), sa.column("outcome", sa.String()),
                       sa.column("reason", sa.String()), sa.column("signed_by", sa.String()),
                       sa.column("signed_at", sqlmodel.sql.sqltypes.UTCDateTime()))
    course = sa.table("treatmentcourse", sa.column("id", sa.Integer()), sa.column("created_at", sa.DateTime()))
    op.execute(signoff.insert().from_select(
        ["course_id", "outcome", "reason", "signed_by", "signed_at"],
        sa.select(course.c.id, sa.literal("eligible"), sa.literal(MIGRATION_NOTE), sa.literal("migration"),
                  course.c.created_at)))


def downgrade() -> None:
    op.drop_index(op.f("ix_eligibilitysignoff_course_id"), table_name="eligibilitysignoff")
    op.drop_table("eligibilitysignoff")   # its triggers go with it
    for name, _ in COURSE_COLUMNS:
        op.drop_column("treatmentcourse", name)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE treatmentcourse DROP COLUMN previous_course_id")
    else:
        op.drop_column("treatmentcourse", "previous_course_id")   # its foreign key goes with it
