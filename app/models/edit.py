from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, new_id, utcnow


class Edit(Base):
    """One requested edit and what became of it. Status moves queued -> running -> succeeded | failed;
    a running edit whose lease expired goes back to queued (bounded by `attempts`)."""

    __tablename__ = "edits"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_edits_user_idempotency"),
        Index("ix_edits_user_created", "user_id", "created_at", "id"),
        Index("ix_edits_status_lease", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    prompt: Mapped[str] = mapped_column(Text)
    quality: Mapped[str] = mapped_column(String(8))
    resolution: Mapped[str] = mapped_column(String(4))
    aspect_ratio: Mapped[str] = mapped_column(String(8))
    output_format: Mapped[str] = mapped_column(String(8))
    output_compression: Mapped[int | None] = mapped_column(Integer)
    background: Mapped[str] = mapped_column(String(16), default="auto")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    native_width: Mapped[int | None] = mapped_column(Integer)
    native_height: Mapped[int | None] = mapped_column(Integer)
    """The size the backend made the picture at, before it was fitted to width x height (a provider's model
    cannot make every size); None until the edit succeeds."""
    credits: Mapped[int] = mapped_column(Integer)
    image_count: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("edits.id", ondelete="SET NULL"))
    backend: Mapped[str] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    plan: Mapped[list[str] | None] = mapped_column(JSON)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16), default="api")
    """Which front door: "web", "api" or "openai"."""
    request_id: Mapped[str | None] = mapped_column(String(64))
    """The `X-Request-ID` of the request that submitted it, so the worker's log lines join the web's."""
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_detail: Mapped[str | None] = mapped_column(Text)
    """For operators only: what the provider said about a failure (status, type, code, request id); the
    customer reads `error_message`."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_key: Mapped[str | None] = mapped_column(String(500))
    result_bytes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the person deleted it (app.editor.service.delete_edit): its files are gone and it is hidden
    everywhere; the row stays so that its ledger entries keep naming it."""
    files_expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When RETENTION_DAYS removed its inputs and result (app.editor.retention); the edit stays listed."""

    inputs: Mapped[list[EditInput]] = relationship(
        back_populates="edit", order_by="EditInput.position", cascade="all, delete-orphan", lazy="selectin")


class EditInput(Base):
    """One stored reference image of an edit, as validated: oriented, metadata stripped."""

    __tablename__ = "edit_inputs"

    edit_id: Mapped[str] = mapped_column(String(32), ForeignKey("edits.id", ondelete="CASCADE"),
                                         primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)

    edit: Mapped[Edit] = relationship(back_populates="inputs")
