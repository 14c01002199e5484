"""The accounts API's request and answer shapes; the handlers return these models."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.accounts.lifecycle import SessionView
from app.api.fields import Timestamp
from app.billing.ledger import Balance
from app.models import ApiKey, Export


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class ApiKeyCreate(BaseModel):
    name: str | None = Field(default=None, max_length=100)


class SignedUp(BaseModel):
    id: str
    email: str
    balance: int


class Me(SignedUp):
    reserved: int = Field(description="credits held for edits that have not finished")
    outstanding: int = Field(description="credits owed after a refund or dispute")
    on_hold: bool
    email_verified: bool = Field(description="whether the address was confirmed by the link mailed to it")

    @classmethod
    def of(cls, user_id: str, email: str, balance: Balance, *, email_verified: bool = False) -> Me:
        return cls(id=user_id, email=email, balance=balance.available, reserved=balance.reserved,
                   outstanding=balance.outstanding, on_hold=balance.on_hold, email_verified=email_verified)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    last4: str
    created_at: Timestamp
    last_used_at: Timestamp | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyOut:
        return cls(id=row.id, name=row.name, last4=row.last4, created_at=row.created_at,
                   last_used_at=row.last_used_at)


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    key: str = Field(description="the key itself: shown in this answer only")
    last4: str
    created_at: Timestamp


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


# --- mailed links, passwords and sessions (app.accounts.lifecycle) ----------------------------------------


class EmailToken(BaseModel):
    token: str = Field(max_length=1000, description="the `token` of the link mailed to the address")


class ForgotPassword(BaseModel):
    email: str = Field(max_length=320)


class ResetPassword(BaseModel):
    token: str = Field(max_length=1000, description="the `token` of the reset link")
    password: str = Field(max_length=1024, description="the new password (8 characters or more)")


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class Accepted(BaseModel):
    message: str


class EmailConfirmed(BaseModel):
    email: str
    email_verified: bool


class PasswordChanged(BaseModel):
    sessions_ended: int = Field(description="other browsers signed out by the change")


class SessionOut(BaseModel):
    id: str
    created_at: Timestamp
    last_seen_at: Timestamp
    browser: str = Field(description="the browser and system in words, from its User-Agent")
    ip_address: str | None
    current: bool = Field(description="the session of the browser asking")

    @classmethod
    def of(cls, view: SessionView) -> SessionOut:
        return cls(id=view.id, created_at=view.created_at, last_seen_at=view.last_seen_at, browser=view.browser,
                   ip_address=view.ip_address, current=view.current)


class SessionList(BaseModel):
    items: list[SessionOut]


# --- your data: exports and deleting the account (app.accounts.export, app.accounts.deletion) -------------


class ExportOut(BaseModel):
    id: str
    status: str = Field(description="pending, ready, failed or expired")
    size: int | None = Field(description="bytes of the ZIP, once ready")
    created_at: Timestamp
    finished_at: Timestamp | None
    expires_at: Timestamp | None = Field(description="when the ZIP is removed; download it before then")
    download_url: str | None
    error: str | None

    @classmethod
    def of(cls, row: Export, status: str) -> ExportOut:
        return cls(id=row.id, status=status, size=row.bytes, created_at=row.created_at,
                   finished_at=row.finished_at, expires_at=row.expires_at, error=row.error_message,
                   download_url=f"/api/v1/me/exports/{row.id}/download" if status == "ready" else None)


class AccountDeletion(BaseModel):
    password: str = Field(max_length=1024, description="the account's password, to confirm")
