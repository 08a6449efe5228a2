"""random per-patient identifier for export pseudonyms

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

Issue 16 item 6: pseudonyms were HMAC(export key, sequential patient id), so a short key was found by
trying keys against known ids in under a millisecond. Each patient now gets 128 random bits
(`pseudo_id`, never shown or exported) and pseudonyms are HMAC(key, pseudo_id). Existing patients
get theirs here (pseudonyms of earlier exports therefore change once, with this upgrade).
"""
import secrets

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("patient", sa.Column("pseudo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM patient"))]
    if ids:
        bind.execute(sa.text("UPDATE patient SET pseudo_id = :pseudo WHERE id = :id"),
                     [{"id": patient_id, "pseudo": secrets.token_hex(16)} for patient_id in ids])
    with op.batch_alter_table("patient") as batch_op:
        batch_op.alter_column("pseudo_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("patient") as batch_op:
        batch_op.drop_column("pseudo_id")
