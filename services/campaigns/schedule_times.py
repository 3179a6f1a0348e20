"""When a scheduled campaign starts: local times in the zones staff work in, read into UTC.

A local time is read with zoneinfo. Around the changes to and from summer time a wall-clock
time can name no instant (the hour the clocks skip in spring) or two (the hour they repeat in
autumn); both are refused with a reason rather than guessed, and the API accepts a time with
its UTC offset for the repeated hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from services.campaigns.errors import N_, InvalidInput

ZONES: Final = ("Europe/Copenhagen", "Europe/Stockholm")
# Swedish-speaking staff work in Sweden; everyone else in Denmark.
DEFAULT_ZONE: Final = {"sv": "Europe/Stockholm"}
HORIZON: Final = timedelta(days=366)


def zone_for_language(language: str | None) -> str:
    """The zone a schedule form starts with for a user of ``language``."""
    return DEFAULT_ZONE.get(language or "", ZONES[0])


def local_time(at: datetime | None, zone: str | None) -> datetime | None:
    """``at`` as the wall-clock time (with offset) in ``zone``; None when either is missing."""
    if at is None or zone not in ZONES:
        return None
    return at.astimezone(ZoneInfo(zone))


def start_time(at: str, zone: str, now: datetime) -> datetime:
    """The UTC instant staff mean by ``at`` in ``zone``; InvalidInput says what is wrong."""
    if zone not in ZONES:
        raise InvalidInput(N_("choose Europe/Copenhagen or Europe/Stockholm"), {"zone": zone[:64]})
    try:
        parsed = datetime.fromisoformat(at.strip())
    except ValueError as exc:
        raise InvalidInput(
            N_("give the date and time as YYYY-MM-DDTHH:MM"), {"at": "not an ISO date and time"}
        ) from exc
    try:
        instant = _instant(parsed, ZoneInfo(zone)) if parsed.tzinfo is None else parsed
        instant = instant.astimezone(UTC)
    except OverflowError as exc:  # the first or last days a datetime can hold
        raise InvalidInput(N_("choose a time within a year"), {"at": "out of range"}) from exc
    if instant <= now:
        raise InvalidInput(
            N_("that time has passed; choose a time in the future"),
            {"at": f"{instant.isoformat()} is not after {now.isoformat(timespec='seconds')}"},
        )
    if instant > now + HORIZON:
        raise InvalidInput(N_("choose a time within a year"), {"at": "more than a year ahead"})
    return instant


def _instant(local: datetime, zone: ZoneInfo) -> datetime:
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    wall = local.isoformat(timespec="minutes")
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        # zoneinfo gives a time in the skipped hour the offsets from either side (PEP 495).
        raise InvalidInput(
            N_(
                "that time does not exist: the clocks move forward an hour that night; "
                "choose a time outside the skipped hour"
            ),
            {"at": f"{wall} falls in the hour skipped when summer time begins in {zone.key}"},
        )
    before, after = _offset(first), _offset(second)
    raise InvalidInput(
        N_(
            "that time happens twice: the clocks move back an hour that night; choose a "
            "time outside the repeated hour"
        ),
        {
            "at": (
                f"{wall} happens twice in {zone.key} when summer time ends: give it with its "
                f"offset, {wall}{before} for the first (summer time) or {wall}{after} for the "
                "second"
            )
        },
    )


def _offset(value: datetime) -> str:
    return value.isoformat()[-6:]
