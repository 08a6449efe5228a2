"""export key generations; a decline's reason chosen from a list

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05

Issue 20 items 2 and 3.

exportkeygeneration: each generation of the team's export key (IL2_EXPORT_KEY_GENERATION) an export has
used, with a fingerprint of its key (an HMAC of a fixed text under the key, 128 bits: tells a changed key,
never gives the key back) and when and by whom it was first used; append-only (UPDATE, DELETE, REPLACE
and TRUNCATE refused, as 0016 does). The generation number and the fingerprint are each unique, so a key
can only ever belong to one generation and a generation to one key.

alertaction.reason_code: a decline's reason chosen from vocabulary.DECLINE_CHOICES (the typed note stays
in `note`), so a de-identified export can say why alerts are declined without the words typed. Plain
ADD COLUMN (nullable: declines before this migration have none).
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

from monitoring.store.migration_triggers import refuse_changes

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLE = "exportkeygeneration"


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("fingerprint", text(length=32), nullable=False),
        sa.Column("first_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("first_used_by", text(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("generation", name="uq_exportkeygeneration_generation"),
        sa.UniqueConstraint("fingerprint", name="uq_exportkeygeneration_fingerprint"),
        sa.CheckConstraint("generation >= 1", name="ck_exportkeygeneration_generation"),
    )
    refuse_changes(TABLE, replace_collisions=(
        f'EXISTS (SELECT 1 FROM "{TABLE}" WHERE generation = NEW.generation OR fingerprint = NEW.fingerprint)',))
    op.add_column("alertaction", sa.Column("reason_code", text(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column("alertaction", "reason_code")
    op.drop_table(TABLE)   # its triggers go with it
