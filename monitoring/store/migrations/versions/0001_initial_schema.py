"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Tables, CHECK constraints on the controlled vocabularies, and triggers that make the clinical
record append-only (UPDATE and DELETE refused) on SQLite and PostgreSQL alike.
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auditevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auditevent_at'), ['at'], unique=False)
        batch_op.create_index('ix_auditevent_entity', ['entity', 'entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auditevent_username'), ['username'], unique=False)

    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email'),
    sa.UniqueConstraint('username')
    )
    op.create_table('ward',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('bed',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ward_id', 'label')
    )
    with op.batch_alter_table('bed', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bed_ward_id'), ['ward_id'], unique=False)

    op.create_table('patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=True),
    sa.Column('bed_id', sa.Integer(), nullable=True),
    sa.Column('sex', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('is_synthetic', sa.Boolean(), nullable=False),
    sa.Column('admitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bed_id'], ['bed.id'], ),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_ward_id'), ['ward_id'], unique=False)

    op.create_table('patientidentity',
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('mrn', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('given_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('family_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('patient_id'),
    sa.UniqueConstraint('mrn')
    )
    op.create_table('treatmentcourse',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('regimen', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('dose_per_kg', sa.Float(), nullable=True),
    sa.Column('dose_unit', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('planned_doses', sa.Integer(), nullable=True),
    sa.Column('dose_interval_hours', sa.Float(), nullable=True),
    sa.Column('start_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('after_lymphodepletion', sa.Boolean(), nullable=False),
    sa.Column('baseline_weight_kg', sa.Float(), nullable=True),
    sa.Column('baseline_creatinine_mg_dl', sa.Float(), nullable=True),
    sa.Column('usual_sbp_mm_hg', sa.Float(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('treatmentcourse', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_treatmentcourse_patient_id'), ['patient_id'], unique=False)

    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('rule_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('rule_version', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('onset_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('evidence_text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('standard', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('context', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('first_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_evaluated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['treatmentcourse.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_key')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_patient_id'), ['patient_id'], unique=False)

    op.create_table('doseevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('dose_number', sa.Integer(), nullable=False),
    sa.Column('scheduled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('given_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('dose', sa.Float(), nullable=True),
    sa.Column('dose_unit', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('record_status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['treatmentcourse.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['doseevent.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('supersedes_id')
    )
    with op.batch_alter_table('doseevent', schema=None) as batch_op:
        batch_op.create_index('ix_doseevent_course_scheduled', ['course_id', 'scheduled_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_doseevent_patient_id'), ['patient_id'], unique=False)

    op.create_table('eligibilityanswer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('item', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('answer', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('answered_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('answered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['treatmentcourse.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('eligibilityanswer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eligibilityanswer_course_id'), ['course_id'], unique=False)

    op.create_table('observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('set_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('value_num', sa.Float(), nullable=True),
    sa.Column('value_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column('original_value', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('original_unit', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column('ref_low', sa.Float(), nullable=True),
    sa.Column('ref_high', sa.Float(), nullable=True),
    sa.Column('observed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('period_start', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('import_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['course_id'], ['treatmentcourse.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['supersedes_id'], ['observation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('import_key'),
    sa.UniqueConstraint('supersedes_id')
    )
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_observation_course_id'), ['course_id'], unique=False)
        batch_op.create_index('ix_observation_patient_code_time', ['patient_id', 'code', 'observed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_observation_set_id'), ['set_id'], unique=False)

    op.create_table('alertaction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('snooze_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('level_at_action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alertaction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alertaction_alert_id'), ['alert_id'], unique=False)

    _add_checks()
    _add_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table('alertaction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alertaction_alert_id'))

    op.drop_table('alertaction')
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_observation_set_id'))
        batch_op.drop_index('ix_observation_patient_code_time')
        batch_op.drop_index(batch_op.f('ix_observation_course_id'))

    op.drop_table('observation')
    with op.batch_alter_table('eligibilityanswer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eligibilityanswer_course_id'))

    op.drop_table('eligibilityanswer')
    with op.batch_alter_table('doseevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_doseevent_patient_id'))
        batch_op.drop_index('ix_doseevent_course_scheduled')

    op.drop_table('doseevent')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_patient_id'))

    op.drop_table('alert')
    with op.batch_alter_table('treatmentcourse', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatmentcourse_patient_id'))

    op.drop_table('treatmentcourse')
    op.drop_table('patientidentity')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_ward_id'))

    op.drop_table('patient')
    with op.batch_alter_table('bed', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bed_ward_id'))

    op.drop_table('bed')
    op.drop_table('ward')
    op.drop_table('user')
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditevent_username'))
        batch_op.drop_index('ix_auditevent_entity')
        batch_op.drop_index(batch_op.f('ix_auditevent_at'))

    op.drop_table('auditevent')


# Frozen copies of the vocabularies at this revision (a later migration changes them, never this one).
CHECKS = {
    "treatmentcourse": {
        "regimen": ("hd-iv-bolus", "continuous-iv", "low-dose-sc", "biochemotherapy", "til-il2", "intralesional"),
        "status": ("planned", "active", "completed", "stopped"),
    },
    "eligibilityanswer": {
        "item": ("bedbound", "supplemental_oxygen", "active_brain_metastases", "on_steroids", "heart_disease",
                 "liver_disease", "lung_disease", "kidney_disease", "autoimmune_disease"),
        "answer": ("yes", "no", "unknown"),
    },
    "doseevent": {"status": ("given", "held", "stopped"), "record_status": ("final", "amended", "entered-in-error")},
    "observation": {"source": ("manual", "device", "lab-import"), "status": ("final", "amended", "entered-in-error")},
    "alert": {"status": ("open", "acknowledged", "declined", "escalated", "snoozed", "resolved", "retracted")},
    "alertaction": {"action": ("acknowledge", "decline", "escalate", "snooze", "resolve")},
    "user": {"role": ("nurse", "oncologist", "quality", "admin")},
}
APPEND_ONLY = ("observation", "doseevent", "eligibilityanswer", "alertaction", "auditevent")


def _add_checks() -> None:
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table) as batch_op:
            for column, values in columns.items():
                allowed = ", ".join(f"'{v}'" for v in values)
                batch_op.create_check_constraint(f"ck_{table}_{column}", f"{column} IN ({allowed})")


def _add_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("""
            CREATE FUNCTION il2_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% on % refused: this record is append-only; record a correction instead',
                    TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END $$ LANGUAGE plpgsql""")
    for table in APPEND_ONLY:
        for operation in ("UPDATE", "DELETE"):
            name = f"{table}_no_{operation.lower()}"
            if dialect == "postgresql":
                op.execute(f'CREATE TRIGGER {name} BEFORE {operation} ON "{table}" '
                           f"FOR EACH ROW EXECUTE FUNCTION il2_refuse_change()")
            else:
                op.execute(f'CREATE TRIGGER {name} BEFORE {operation} ON "{table}" BEGIN '
                           f"SELECT RAISE(ABORT, '{operation} on {table} refused: this record is "
                           f"append-only; record a correction instead'); END")


def _drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for operation in ("UPDATE", "DELETE"):
            name = f"{table}_no_{operation.lower()}"
            op.execute(f'DROP TRIGGER IF EXISTS {name}' + (f' ON "{table}"' if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS il2_refuse_change()")
