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
    # The column stays nullable: on SQLite, NOT NULL would rebuild the table (DROP TABLE patient), which
    # the foreign keys of every clinical row refuse on a populated database, and both databases keep
    # one schema. The model's default fills it on every insert; this upgrade filled the rest.


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("patient", "pseudo_id")
    else:   # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35) does not rebuild the table
        op.execute("ALTER TABLE patient DROP COLUMN pseudo_id")
