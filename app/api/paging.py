"""Paging of newest-first lists by an opaque cursor: one helper for the API and the pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from app.errors import ValidationFailed

Row = TypeVar("Row")
Item = TypeVar("Item")
MAX_SEQUENCE = 2**63 - 1  # the largest value a BIGINT column holds


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


def sequence_cursor(cursor: str | None) -> int | None:
    """A cursor that is a row's sequence number: a plain bounded integer, else 422 naming `cursor`."""
    if not cursor:
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19 or int(cursor) > MAX_SEQUENCE:
        raise ValidationFailed("That cursor is not valid; start again without it.", field="cursor")
    return int(cursor)


def page_of(rows: Sequence[Row], limit: int, cursor_of: Callable[[Row], str]) -> tuple[list[Row], str | None]:
    """Split `rows`, fetched with `limit + 1`, into this page and the cursor of the next (None at the end)."""
    if len(rows) > limit:
        return list(rows[:limit]), cursor_of(rows[limit - 1])
    return list(rows), None
