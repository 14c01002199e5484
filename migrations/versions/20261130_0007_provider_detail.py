"""provider detail: what the image provider said about a failed edit, for operators only

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-30 23:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('edits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_detail', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('edits', schema=None) as batch_op:
        batch_op.drop_column('error_detail')
