"""Event feeds read into events: iCalendar with ``icalendar``, RSS and Atom with ``feedparser``.

Only upcoming events within a horizon are kept. A recurring iCalendar event (RRULE) counts as
its next occurrence from now: a digest lists an event series once, at its next date, rather than
every week of it. RSS has no standard event time: an item's ``ev:startdate`` (the RSS event
module) is its start, else its publication date when that lies ahead (how calendar plug-ins
publish events), else it is no event and left out."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import feedparser
import icalendar
from dateutil import rrule

from services.campaigns.errors import N_, FeedError

# The zone of a feed's floating times and all-day dates unless the calendar names its own.
DEFAULT_ZONE: Final = "Europe/Copenhagen"
# Events further ahead than this are left out; so are more than this many per feed.
HORIZON: Final = timedelta(days=366)
MAX_EVENTS: Final = 2000


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """One upcoming event of a feed, keyed within the feed by ``uid``."""

    uid: str
    title: str
    starts_at: datetime  # UTC
    time_zone: str
    all_day: bool
    place: str | None
    link: str | None
    image_url: str | None


def parse_feed(body: bytes, now: datetime) -> list[ParsedEvent]:
    """The upcoming events of an iCalendar, RSS or Atom document, one per uid, by start;
    FeedError when the document is none of these."""
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"BEGIN:VCALENDAR"):
        found = _calendar_events(body, now)
    else:
        found = _rss_events(body, now)
    upcoming: dict[str, ParsedEvent] = {}
    for event in found:
        if now <= event.starts_at <= now + HORIZON:
            upcoming[event.uid] = event
    return sorted(upcoming.values(), key=lambda event: event.starts_at)[:MAX_EVENTS]


def _text(value: object, limit: int) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return text[:limit] or None


def _web_address(value: object) -> str | None:
    text = _text(value, 2000)
    # Only web addresses reach a mail: no javascript: or data: links from a feed.
    return text if text and text.lower().startswith(("https://", "http://")) else None


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def _calendar_events(body: bytes, now: datetime) -> Iterator[ParsedEvent]:
    try:
        calendar_ = icalendar.Calendar.from_ical(body)
    except (ValueError, IndexError, KeyError) as exc:
        raise FeedError(N_("the feed is not a readable iCalendar file")) from exc
    default_zone = _zone(_text(calendar_.get("X-WR-TIMEZONE"), 64))
    for component in calendar_.walk("VEVENT"):
        try:
            event = _calendar_event(component, default_zone, now)
        except (ValueError, TypeError, KeyError, OverflowError):
            continue  # one broken event does not break the feed
        if event is not None:
            yield event


def _calendar_event(component: Any, default_zone: ZoneInfo, now: datetime) -> ParsedEvent | None:
    uid = _text(component.get("UID"), 500)
    title = _text(component.get("SUMMARY"), 500)
    start_property = component.get("DTSTART")
    if uid is None or title is None or start_property is None:
        return None
    start = start_property.dt
    all_day = not isinstance(start, datetime)
    if all_day:
        start = datetime.combine(start, time(0), tzinfo=default_zone)
    elif start.tzinfo is None:
        start = start.replace(tzinfo=default_zone)
    zone_name = getattr(start.tzinfo, "key", None) or "UTC"
    if component.get("RRULE") is not None:
        start = _next_occurrence(component, start, now)
        if start is None:
            return None
    image = component.get("IMAGE")
    return ParsedEvent(
        uid=uid,
        title=title,
        starts_at=start.astimezone(UTC),
        time_zone=zone_name,
        all_day=all_day,
        place=_text(component.get("LOCATION"), 500),
        link=_web_address(component.get("URL")),
        image_url=_web_address(image) if image is not None else None,
    )


def _next_occurrence(component: Any, start: datetime, now: datetime) -> datetime | None:
    rule = component.get("RRULE")
    rules = rule if isinstance(rule, list) else [rule]
    occurrences = rrule.rruleset()
    for item in rules:
        occurrences.rrule(rrule.rrulestr(item.to_ical().decode(), dtstart=start))
    next_start: datetime | None = occurrences.after(now.astimezone(start.tzinfo), inc=True)
    return next_start


def _rss_events(body: bytes, now: datetime) -> Iterator[ParsedEvent]:
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(N_("the feed is neither iCalendar nor RSS or Atom"))
    for entry in parsed.entries:
        uid = _text(entry.get("id") or entry.get("link"), 500)
        title = _text(entry.get("title"), 500)
        start = _rss_start(entry, now)
        if uid is None or title is None or start is None:
            continue
        yield ParsedEvent(
            uid=uid,
            title=title,
            starts_at=start.astimezone(UTC),
            time_zone=getattr(start.tzinfo, "key", None) or DEFAULT_ZONE,
            all_day=False,
            place=_text(entry.get("ev_location"), 500),
            link=_web_address(entry.get("link")),
            image_url=_rss_image(entry),
        )


def _rss_start(entry: Any, now: datetime) -> datetime | None:
    declared = entry.get("ev_startdate")
    if declared:
        try:
            start = datetime.fromisoformat(str(declared).strip())
        except ValueError:
            try:
                start = datetime.combine(date.fromisoformat(str(declared).strip()[:10]), time(0))
            except ValueError:
                return None
        if start.tzinfo is None:
            start = start.replace(tzinfo=_zone(None))
        return start
    published = entry.get("published_parsed")
    if published:
        start = datetime.fromtimestamp(calendar.timegm(published), UTC)
        if start >= now:
            return start.astimezone(_zone(None))
    return None


def _rss_image(entry: Any) -> str | None:
    for media in (*entry.get("media_content", ()), *entry.get("media_thumbnail", ())):
        if media.get("medium", "image") == "image" and media.get("url"):
            return _web_address(media["url"])
    for enclosure in entry.get("enclosures", ()):
        if str(enclosure.get("type", "")).startswith("image/"):
            return _web_address(enclosure.get("href"))
    return None
