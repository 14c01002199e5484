"""Field types shared by every answer model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer


def iso(moment: datetime | None) -> str | None:
    """UTC times as ISO 8601 with a Z, the way every answer writes them."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None


Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]
