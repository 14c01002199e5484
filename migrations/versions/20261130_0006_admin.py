"""operator console: operators and disabled accounts; the trail of what operators did

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 23:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_operator', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('held_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('admin_actions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('operator_id', sa.String(length=32), nullable=True),
    sa.Column('operator_email', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target_user_id', sa.String(length=32), nullable=True),
    sa.Column('target_email', sa.String(length=320), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['users.id'], name=op.f('fk_admin_actions_operator_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_user_id'], ['users.id'], name=op.f('fk_admin_actions_target_user_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_actions'))
    )
    with op.batch_alter_table('admin_actions', schema=None) as batch_op:
        batch_op.create_index('ix_admin_actions_target_created', ['target_user_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('admin_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_actions_target_created')
    op.drop_table('admin_actions')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('held_at')
        batch_op.drop_column('disabled_at')
        batch_op.drop_column('is_operator')
