"""Field types shared by every answer model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import PlainSerializer

from app.models.base import iso

Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]
