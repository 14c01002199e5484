"""native size: the size the backend made an edit's picture at, before it was fitted to the promised size

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 03:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('edits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('native_width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('native_height', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('edits', schema=None) as batch_op:
        batch_op.drop_column('native_height')
        batch_op.drop_column('native_width')
