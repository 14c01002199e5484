"""The share of a payment's credits that refunds and lost disputes take back: proportional to the money
returned, rounded in the person's favour, all of them once all the money is back, never more."""

from __future__ import annotations

import pytest

from app.billing.payments import credits_to_take_back

pytestmark = pytest.mark.nodb


@pytest.mark.parametrize(("credits", "amount", "refunded", "lost", "expected"), [
    (100, 500, 0, 0, 0),
    (100, 500, 100, 0, 20),       # $1 of $5
    (250, 1000, 250, 0, 62),      # 62.5 rounds down: the person keeps the half credit
    (100, 500, 1, 0, 0),          # a cent back is not worth a credit
    (100, 500, 499, 0, 99),
    (100, 500, 500, 0, 100),
    (100, 500, 0, 500, 100),      # a lost dispute over the whole payment
    (100, 500, 200, 300, 100),    # part refunded, the rest lost in a dispute
    (100, 500, 500, 500, 100),    # never more than the payment's credits
])
def test_credits_to_take_back(credits, amount, refunded, lost, expected):
    assert credits_to_take_back(credits, amount, refunded, lost) == expected
