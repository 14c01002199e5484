"""The billing tasks every process that runs workers registers (app.context.build_context)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.billing import auto_recharge, webhooks
from app.billing.sweeper import sweep

if TYPE_CHECKING:
    from app.context import AppContext


def register(context: AppContext) -> None:
    """Handle Stripe events, run automatic recharges (checked after every charge), and sweep for events
    left unhandled and recharges whose outcome went missing."""
    context.queue.register(webhooks.HANDLE_EVENT, lambda event_id: webhooks.handle(context, event_id))
    context.queue.register(auto_recharge.RECHARGE, lambda user_id: auto_recharge.run(context, user_id))
    context.queue.register(auto_recharge.RECHARGE_RETRY, lambda topup_id: auto_recharge.charge(context, topup_id))
    context.after_charge.append(lambda user_id: auto_recharge.after_charge(context, user_id))
    context.sweeps.append(lambda: sweep(context))
