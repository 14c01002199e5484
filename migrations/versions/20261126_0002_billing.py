"""billing: top-ups, Stripe events (stored once by id), what Stripe said about payments, billing profiles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 19:29:54.794045
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=300), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.create_index('ix_stripe_events_handled_sent', ['handled_at', 'sent_at'], unique=False)

    op.create_table('stripe_payments',
    sa.Column('payment_intent_id', sa.String(length=255), nullable=False),
    sa.Column('charge_id', sa.String(length=255), nullable=True),
    sa.Column('amount_refunded', sa.Integer(), nullable=False),
    sa.Column('refunds', sa.JSON(), nullable=False),
    sa.Column('dispute_id', sa.String(length=255), nullable=True),
    sa.Column('dispute_status', sa.String(length=32), nullable=True),
    sa.Column('dispute_amount', sa.Integer(), nullable=False),
    sa.Column('credits_taken_back', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_refunded >= 0 AND credits_taken_back >= 0 AND dispute_amount >= 0', name=op.f('ck_stripe_payments_not_negative')),
    sa.PrimaryKeyConstraint('payment_intent_id', name=op.f('pk_stripe_payments')),
    sa.UniqueConstraint('charge_id', name=op.f('uq_stripe_payments_charge_id'))
    )
    op.create_table('billing_profiles',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=True),
    sa.Column('payment_method_id', sa.String(length=255), nullable=True),
    sa.Column('card_saved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recharge_enabled', sa.Boolean(), nullable=False),
    sa.Column('recharge_threshold', sa.Integer(), nullable=False),
    sa.Column('recharge_pack_id', sa.String(length=40), nullable=True),
    sa.Column('recharge_failure', sa.String(length=500), nullable=True),
    sa.Column('recharge_failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_billing_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_billing_profiles'))
    )
    op.create_table('topups',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('pack_id', sa.String(length=40), nullable=False),
    sa.Column('credits', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('save_card', sa.Boolean(), nullable=False),
    sa.Column('checkout_session_id', sa.String(length=255), nullable=True),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('recharge_slot', sa.String(length=32), nullable=True),
    sa.Column('failure_message', sa.String(length=500), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('credits > 0 AND amount > 0', name=op.f('ck_topups_positive')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_topups_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topups')),
    sa.UniqueConstraint('checkout_session_id', name=op.f('uq_topups_checkout_session_id')),
    sa.UniqueConstraint('payment_intent_id', name=op.f('uq_topups_payment_intent_id')),
    sa.UniqueConstraint('recharge_slot', name=op.f('uq_topups_recharge_slot'))
    )
    with op.batch_alter_table('topups', schema=None) as batch_op:
        batch_op.create_index('ix_topups_source_status', ['source', 'status'], unique=False)
        batch_op.create_index('ix_topups_user_created', ['user_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('topups', schema=None) as batch_op:
        batch_op.drop_index('ix_topups_user_created')
        batch_op.drop_index('ix_topups_source_status')

    op.drop_table('topups')
    op.drop_table('billing_profiles')
    op.drop_table('stripe_payments')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stripe_events_handled_sent')

    op.drop_table('stripe_events')