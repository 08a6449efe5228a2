"""user wards

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

The wards each user is assigned to (nurses see the patients of their wards only).
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('userward',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'ward_id')
    )


def downgrade() -> None:
    op.drop_table('userward')
