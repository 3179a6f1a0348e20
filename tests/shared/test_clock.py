"""shared.clock: stored times are aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from shared.clock import aware, utcnow


def test_utcnow_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(datetime.now(UTC) - now) < timedelta(seconds=5)


def test_aware_marks_naive_times_as_utc_and_keeps_aware_ones() -> None:
    assert aware(datetime(2026, 11, 29, 12, 0)) == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    cet = datetime(2026, 11, 29, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert aware(cet) is cet
