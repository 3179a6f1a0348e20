"""Time as every service stores it: timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands back naive datetimes; every stored time is UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
