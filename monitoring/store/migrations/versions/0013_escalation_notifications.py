"""escalations name whom they go to; notification attempts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Issue 18 item 2. alertaction.escalated_to: the role ("role:oncologist") or person ("user:dr.a") an
escalation goes to. notificationattempt: one row per try at telling them (e-mail or webhook), with
its outcome; append-only like the rest of the record (UPDATE, DELETE, REPLACE and TRUNCATE refused,
as 0001, 0007 and 0009 do for the other tables). Plain ADD COLUMN (batch mode would rebuild
alertaction on SQLite and drop its triggers).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLE = "notificationattempt"


def upgrade() -> None:
    op.add_column("alertaction", sa.Column("escalated_to", sqlmodel.sql.sqltypes.AutoString(length=120),
                                           nullable=True))
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["action_id"], ["alertaction.id"]),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.PrimaryKeyConstraint("id"),
        # Two tries of one escalation never share a number (two Retry clicks at once on PostgreSQL).
        sa.UniqueConstraint("action_id", "attempt", name="uq_notificationattempt_action_attempt"),
    )
    op.create_index(op.f("ix_notificationattempt_action_id"), TABLE, ["action_id"])
    op.create_index(op.f("ix_notificationattempt_alert_id"), TABLE, ["alert_id"])
    dialect = op.get_bind().dialect.name
    for operation in ("UPDATE", "DELETE"):
        name = f"{TABLE}_no_{operation.lower()}"
        if dialect == "postgresql":
            op.execute(f'CREATE TRIGGER {name} BEFORE {operation} ON "{TABLE}" '
                       f"FOR EACH ROW EXECUTE FUNCTION il2_refuse_change()")
        else:
            op.execute(f'CREATE TRIGGER {name} BEFORE {operation} ON "{TABLE}" BEGIN '
                       f"SELECT RAISE(ABORT, '{operation} on {TABLE} refused: this record is "
                       f"append-only; record a correction instead'); END")
    if dialect == "postgresql":
        op.execute(f'CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON "{TABLE}" '
                   f"FOR EACH STATEMENT EXECUTE FUNCTION il2_refuse_change()")
    else:
        op.execute(f'CREATE TRIGGER {TABLE}_no_replace BEFORE INSERT ON "{TABLE}" '
                   f'WHEN EXISTS (SELECT 1 FROM "{TABLE}" WHERE id = NEW.id) BEGIN '
                   f"SELECT RAISE(ABORT, 'INSERT over an existing row of {TABLE} refused: this record is "
                   f"append-only (REPLACE would overwrite it); record a correction instead'); END")


def downgrade() -> None:
    op.drop_index(op.f("ix_notificationattempt_alert_id"), table_name=TABLE)
    op.drop_index(op.f("ix_notificationattempt_action_id"), table_name=TABLE)
    op.drop_table(TABLE)   # its triggers go with it
    op.drop_column("alertaction", "escalated_to")
