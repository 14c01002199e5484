from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class StripeEvent(Base):
    """A signed Stripe webhook event, stored once by its id (the primary key) before anything acts on it,
    then handled by a worker, which sets `handled_at`. An event whose message was lost is re-sent by the
    sweeper; a redelivery of a stored event changes nothing."""

    __tablename__ = "stripe_events"
    __table_args__ = (Index("ix_stripe_events_handled_sent", "handled_at", "sent_at"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[str] = mapped_column(Text)
    """The body exactly as Stripe signed it."""
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    """When Stripe created the event."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When a worker was last asked to handle it."""
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(300))
    """What handling did, for operators ("credited 100", "ignored: …")."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
