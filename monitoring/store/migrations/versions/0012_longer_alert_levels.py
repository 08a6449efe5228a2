"""alert.level and alertaction.level_at_action: 120 characters

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

The capillary-leak rule's level "weight gain above the Dutcher relative criterion" has 48 characters;
the columns held 40, so on a hospital-sized ward (where that level occurs) storing the alerts was
refused on both databases and no alert of the batch was kept. A test now checks every level of every
rule against the column.

SQLite stores text whatever the declared length, so only the declared type in the schema text changes
(the documented writable_schema procedure for a change that leaves the stored records as they are:
VARCHAR(40) and VARCHAR(120) have the same TEXT affinity); rebuilding the tables would drop the
append-only triggers of alertaction and is refused by the foreign keys.
"""
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (("alert", "level", False), ("alertaction", "level_at_action", True))


def _declared_length(old: int, new: int) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, column, nullable in COLUMNS:
            op.alter_column(table, column, type_=sqlmodel.sql.sqltypes.AutoString(length=new),
                            existing_type=sqlmodel.sql.sqltypes.AutoString(length=old), existing_nullable=nullable)
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    for table, column, _ in COLUMNS:
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = ?",
            (f"{column} VARCHAR({old})", f"{column} VARCHAR({new})", table))
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def upgrade() -> None:
    _declared_length(40, 120)


def downgrade() -> None:
    _declared_length(120, 40)
