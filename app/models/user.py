from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, new_id, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the person followed the link mailed to them (app.accounts.lifecycle); None until then."""
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the person deleted their account (app.accounts.deletion): the row is a tombstone from then on."""
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """May use the operator console (/admin); set by `python -m app users create --operator` or `users promote`."""
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When an operator disabled the account: it can no longer log in or use its API keys."""
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When an operator put the account on hold (app.admin.service.set_hold); None when no operator hold.
    `Account.on_hold` is what refuses edits: it is set by this hold and by an open payment dispute."""
