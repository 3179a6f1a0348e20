"""The audit log page's filters: form values read into ``staff_audit.read``'s arguments.

Times are typed in the staff user's own time zone (``datetime-local`` inputs) and compared in
UTC; the JSON API takes ISO times with an offset instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from services.campaigns.errors import N_, InvalidInput
from shared.custom_fields import is_clean_text

PER_PAGE: Final = 50
_MAX_ID: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """What the audit log page was asked to show."""

    actor: str | None = None
    action: str | None = None
    object_ref: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None


def _text(query: Mapping[str, str], name: str, longest: int, errors: dict[str, str]) -> str | None:
    value = (query.get(name) or "").strip()[:longest]
    if not is_clean_text(value) or "\n" in value or "\r" in value:
        # PostgreSQL cannot even compare a NUL; no actor, action or object holds one.
        errors[name] = N_("must be one line without control characters")
        return None
    return value or None


def _local_time(
    raw: str | None, zone: ZoneInfo, field: str, errors: dict[str, str]
) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw[:32])
    except ValueError:
        errors[field] = N_("is not a date and time")
        return None
    # Compared in UTC, as the trail is written (SQLite compares the text).
    try:
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(UTC)
    except OverflowError:  # the first or last days of the calendar, moved across midnight
        errors[field] = N_("is not a date and time")
        return None


def read_filters(query: Mapping[str, str], zone: ZoneInfo) -> AuditFilters:
    """The filters of the page's query string; raise InvalidInput naming each bad one."""
    errors: dict[str, str] = {}
    since = _local_time(_text(query, "since", 32, errors), zone, "since", errors)
    until = _local_time(_text(query, "until", 32, errors), zone, "until", errors)
    before_text = _text(query, "before", 20, errors)
    actor = _text(query, "actor", 64, errors)
    action = _text(query, "action", 64, errors)
    object_ref = _text(query, "object", 128, errors)
    before = int(before_text) if before_text and before_text.isdigit() else None
    if before_text and (before is None or not 0 < before <= _MAX_ID):
        errors["before"] = N_("is not a page of the log")
        before = None
    if errors:
        raise InvalidInput(N_("the filters are not valid"), errors)
    return AuditFilters(
        actor=actor,
        action=action,
        object_ref=object_ref,
        since=since,
        until=until,
        before=before,
    )
