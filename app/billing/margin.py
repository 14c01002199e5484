"""Whether the credit prices pay for the provider: per day and per quality/resolution, the succeeded edits,
the credits they were charged, what those credits brought at the pack prices, what the provider charged
for them (app.billing.provider_costs) and the difference. Read-only (`python -m app report margin`).

A credit's worth is taken at the cheapest pack (the lowest price per credit a customer can pay), so the
margin shown is the least the operator made; credits granted for free (sign-up, grants) are valued the same,
which overstates what they brought in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.pricing import Pricing
from app.billing.provider_costs import ProviderPrices
from app.models import Edit

CENT = Decimal("0.01")


@dataclass
class MarginRow:
    """One day, quality and resolution; or, with no day, the total of several rows (`total`)."""

    day: date | None
    quality: str
    resolution: str
    edits: int = 0
    credits: int = 0
    revenue: Decimal = Decimal(0)
    """USD the credits brought at the pack prices."""
    provider_cost: Decimal = Decimal(0)
    """USD the provider charged, for the edits whose usage and model price are known."""
    unpriced: int = 0
    """Edits without usage (the offline engine) or without a price for their model."""

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.provider_cost


def credit_value(pricing: Pricing) -> Decimal:
    """USD per credit at the cheapest pack (in US dollars; packs in other currencies are left out)."""
    rates = [Decimal(pack.amount) / 100 / pack.credits for pack in pricing.packs if pack.currency.lower() == "usd"]
    if not rates:
        raise ValueError("no pack is priced in usd; the margin report compares with the provider's USD prices")
    return min(rates)


def margin_report(db: Session, pricing: Pricing, prices: ProviderPrices, *, days: int,
                  now: datetime) -> list[MarginRow]:
    """The rows of the last `days` days (UTC, today included), by the day each edit finished, oldest first."""
    since = datetime.combine((now - timedelta(days=days - 1)).date(), datetime.min.time(), tzinfo=now.tzinfo)
    value = credit_value(pricing)
    rows: dict[tuple[date, str, str], MarginRow] = {}
    query = (select(Edit.finished_at, Edit.quality, Edit.resolution, Edit.credits, Edit.model, Edit.usage)
             .where(Edit.status == "succeeded", Edit.finished_at >= since).order_by(Edit.finished_at))
    for finished_at, quality, resolution, credits, model, usage in db.execute(query):
        key = (finished_at.date(), quality, resolution)
        row = rows.setdefault(key, MarginRow(*key))
        row.edits += 1
        row.credits += credits
        row.revenue += credits * value
        cost = prices.cost_of(model, usage)
        if cost is None:
            row.unpriced += 1
        else:
            row.provider_cost += cost
    order = {"low": 0, "medium": 1, "high": 2}
    return sorted(rows.values(), key=lambda row: (row.day, order.get(row.quality, 9), row.resolution))


def total(rows: list[MarginRow]) -> MarginRow:
    """The sum of the rows (its day None)."""
    summed = MarginRow(None, "", "")
    for row in rows:
        summed.edits += row.edits
        summed.credits += row.credits
        summed.revenue += row.revenue
        summed.provider_cost += row.provider_cost
        summed.unpriced += row.unpriced
    return summed


def format_report(rows: list[MarginRow], value: Decimal) -> str:
    """A plain-text table with a total line, amounts in USD to the cent."""
    header = ("day", "quality", "res", "edits", "credits", "revenue $", "provider $", "margin $", "unpriced")
    lines = [header]
    for row in [*rows, total(rows)]:
        lines.append((row.day.isoformat() if row.day else "total", row.quality, row.resolution, str(row.edits),
                      str(row.credits), usd(row.revenue), usd(row.provider_cost), usd(row.margin), str(row.unpriced)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) if i < 3 else cell.rjust(width)
                      for i, (cell, width) in enumerate(zip(line, widths, strict=True))) for line in lines]
    return "\n".join([f"A credit is worth ${value.quantize(Decimal('0.0001'))} (the cheapest pack).", *text])


def usd(amount: Decimal) -> str:
    """An amount in USD to the cent, as the report and the console show it."""
    return str(amount.quantize(CENT))
