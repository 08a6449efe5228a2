"""beds can be retired; a server key for the audit log's pseudonyms

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

Issue 19 item 4. bed.retired_at / retired_by: a bed taken out of use is marked, never deleted (patients
refer to their bed, and the trail names it); adding the same label again brings it back. Plain ADD
COLUMN (nullable; batch mode would rebuild the table on SQLite).

serversecret: keys the server keeps for itself, one row per purpose. 'audit-pseudonym' (128 random
bits, made here once) keys the pseudonyms the administrator's audit view shows for patients
(monitoring.export.deid.pseudonym: HMAC of the patient's random pseudo_id), so they are stable across
restarts and replicas and need no configuration; only a role that may resolve them computes them back
(monitoring.services.pseudonyms). The app's PostgreSQL role may only read it (db_roles).
"""
import secrets

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.add_column("bed", sa.Column("retired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column("bed", sa.Column("retired_by", text(length=64), nullable=True))
    secret = op.create_table(
        "serversecret",
        sa.Column("name", text(length=40), nullable=False),
        sa.Column("value", text(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(secret, [{"name": "audit-pseudonym", "value": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("serversecret")
    op.drop_column("bed", "retired_by")
    op.drop_column("bed", "retired_at")
