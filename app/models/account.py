from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Account(Base):
    """A person's credit balance, kept as running sums of the ledger's transfers (TigerBeetle style).

    available = credits_posted - debits_posted - debits_pending, and the database refuses any row where
    it would go below zero. `outstanding` is credit taken back by a refund or a lost dispute that had
    already been spent: it blocks new edits and is settled first by the next top-up.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("credits_posted - debits_posted - debits_pending >= 0", name="available_not_negative"),
        CheckConstraint("credits_posted >= 0 AND debits_posted >= 0 AND debits_pending >= 0 "
                        "AND outstanding >= 0", name="sums_not_negative"),
    )

    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    credits_posted: Mapped[int] = mapped_column(Integer, default=0)
    debits_posted: Mapped[int] = mapped_column(Integer, default=0)
    debits_pending: Mapped[int] = mapped_column(Integer, default=0)
    outstanding: Mapped[int] = mapped_column(Integer, default=0)
    on_hold: Mapped[bool] = mapped_column(default=False)

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending
