"""account trust: confirmed e-mail addresses; sessions get an id, last use, browser and address

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 23:30:00.000000
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('user_agent', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('ip_address', sa.String(length=64), nullable=True))
    # Sessions signed in before this revision: a fresh id each, last seen when they began.
    connection = op.get_bind()
    sessions = sa.table('sessions', sa.column('token_hash', sa.String), sa.column('id', sa.String),
                        sa.column('created_at', sa.DateTime), sa.column('last_seen_at', sa.DateTime))
    for (token_hash,) in connection.execute(sa.select(sessions.c.token_hash)).all():
        connection.execute(sa.update(sessions).where(sessions.c.token_hash == token_hash)
                           .values(id=uuid.uuid4().hex))
    connection.execute(sa.update(sessions).values(last_seen_at=sessions.c.created_at))
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.alter_column('id', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('last_seen_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_sessions_id'), ['id'])


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sessions_id'), type_='unique')
        batch_op.drop_column('ip_address')
        batch_op.drop_column('user_agent')
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('id')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')
