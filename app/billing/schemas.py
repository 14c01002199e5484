"""The billing API's request and answer shapes (what /docs shows; the handlers return matching dicts)."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
    created_at: str
    paid_at: str | None
    failure: str | None
    balance: int = Field(description="the person's available credits now")


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool = Field(description="true when this event was already stored (nothing is done twice)")
