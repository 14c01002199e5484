"""The billing API's request and answer shapes; the handlers return these models."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.api.fields import Timestamp
from app.billing import ledger
from app.models import TopUp, Transfer


class CheckoutRequest(BaseModel):
    pack_id: str = Field(max_length=40, description="one of the packs of GET /api/v1/pricing")


class CheckoutOut(BaseModel):
    url: str = Field(description="Stripe's checkout page for this purchase: send the person there")
    topup_id: str = Field(description="GET /api/v1/billing/topups/{topup_id} shows when its credits arrived")


class TopUpOut(BaseModel):
    id: str
    status: str = Field(description="pending, paid, failed or expired")
    credited: bool = Field(description="true once Stripe's webhook has confirmed the payment and the credits are in")
    credits: int
    amount: int = Field(description="price in the currency's minor unit (cents)")
    currency: str
    source: str = Field(description="checkout or auto_recharge")
    created_at: Timestamp
    paid_at: Timestamp | None
    failure: str | None
    balance: int = Field(description="the person's available credits now")

    @classmethod
    def of(cls, db: Session, topup: TopUp) -> TopUpOut:
        """`credited` turns true once the webhook has put the credits in (the success page never grants
        them itself)."""
        return cls(id=topup.id, status=topup.status, credited=topup.status == "paid", credits=topup.credits,
                   amount=topup.amount, currency=topup.currency, source=topup.source,
                   created_at=topup.created_at, paid_at=topup.paid_at, failure=topup.failure_message,
                   balance=ledger.balance(db, topup.user_id).available)


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool = Field(description="true when this event was already stored (nothing is done twice)")


class TransferOut(BaseModel):
    id: str
    kind: str = Field(description="grant, reserve, post, void, purchase, refund, …")
    amount: int = Field(description="signed change of the available balance")
    credits: int
    balance_after: int
    reason: str
    edit_id: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, record: Transfer) -> TransferOut:
        return cls(id=record.id, kind=record.kind, amount=ledger.signed_amount(record), credits=record.amount,
                   balance_after=record.balance_after, reason=record.reason, edit_id=record.edit_id,
                   created_at=record.created_at)
