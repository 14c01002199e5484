"""The accounts API's request and answer shapes; the handlers return these models."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.api.fields import Timestamp
from app.billing.ledger import Balance
from app.models import ApiKey


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

    @classmethod
    def of(cls, user_id: str, email: str, balance: Balance) -> Me:
        return cls(id=user_id, email=email, balance=balance.available, reserved=balance.reserved,
                   outstanding=balance.outstanding, on_hold=balance.on_hold)


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
