"""The Stripe API client: the official SDK, built from the settings. `STRIPE_API_BASE` points it at another
server (localstripe or a test double in the tests); nothing else in the app talks to Stripe's API."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import stripe

from app.config import Settings
from app.errors import PaymentsDisabled

if TYPE_CHECKING:
    from stripe._base_address import BaseAddresses

# The SDK retries connection errors and 409/429/5xx; every call that creates something carries an
# idempotency key, so a retry never charges twice.
NETWORK_RETRIES = 2
TIMEOUT_SECONDS = 30


def payments_off_message() -> str:
    return ("Payments are not set up on this server (no STRIPE_SECRET_KEY). An operator can grant credits with "
            "`python -m app credits grant --email E --amount N --reason TEXT`.")


def stripe_client(settings: Settings) -> stripe.StripeClient:
    """The client for this server's Stripe account; PaymentsDisabled when no secret key is configured."""
    if not settings.payments_enabled or not settings.stripe_secret_key:
        raise PaymentsDisabled(payments_off_message())
    return _client(settings.stripe_secret_key, (settings.stripe_api_base or "").rstrip("/") or None)


@cache
def _client(secret_key: str, api_base: str | None) -> stripe.StripeClient:
    # One client per key and address: it keeps its HTTP connections between calls.
    addresses: BaseAddresses = {"api": api_base} if api_base else {}
    return stripe.StripeClient(
        secret_key,
        base_addresses=addresses,
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )
