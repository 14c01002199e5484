from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class BillingProfile(Base):
    """A person's standing with Stripe: their Customer, the card they chose to save during a Checkout
    top-up, and their automatic top-up settings (threshold and pack), with the reason it last failed."""

    __tablename__ = "billing_profiles"

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(255))
    payment_method_id: Mapped[str | None] = mapped_column(String(255))
    card_saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recharge_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    recharge_threshold: Mapped[int] = mapped_column(Integer, default=20)
    recharge_pack_id: Mapped[str | None] = mapped_column(String(40))
    recharge_failure: Mapped[str | None] = mapped_column(String(500))
    recharge_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
