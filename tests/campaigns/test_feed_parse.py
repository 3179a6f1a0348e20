"""Reading feeds into events: zones, all-day dates, recurring events, RSS without event times,
one event per UID, and what is left out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.campaigns.errors import FeedError
from services.campaigns.feed_parse import parse_feed

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

CALENDAR = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
X-WR-TIMEZONE:Europe/Stockholm\r
BEGIN:VEVENT\r
UID:weekly@x\r
SUMMARY:Sagostund\r
DTSTART;TZID=Europe/Stockholm:20261001T100000\r
RRULE:FREQ=WEEKLY\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:day@x\r
SUMMARY:Julmarknad\r
DTSTART;VALUE=DATE:20261212\r
URL:javascript:alert(1)\r
IMAGE;VALUE=URI:https://example.org/jul.jpg\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:floating@x\r
SUMMARY:Konsert\r
DTSTART:20261205T190000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:floating@x\r
SUMMARY:Konsert (flyttad)\r
DTSTART:20261206T190000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:far@x\r
SUMMARY:Far ahead\r
DTSTART:20290101T190000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:No UID\r
DTSTART:20261205T190000Z\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_calendar_events_with_zones_dates_and_recurrence() -> None:
    found = {event.uid: event for event in parse_feed(CALENDAR, NOW)}
    assert set(found) == {"weekly@x", "day@x", "floating@x"}
    # A weekly series counts once, at its next occurrence after now (Thursday 3 December).
    weekly = found["weekly@x"]
    assert weekly.starts_at == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert (weekly.time_zone, weekly.all_day) == ("Europe/Stockholm", False)
    # An all-day date starts at midnight in the calendar's zone; no javascript: link.
    day = found["day@x"]
    assert day.all_day and day.starts_at == datetime(2026, 12, 11, 23, 0, tzinfo=UTC)
    assert day.link is None and day.image_url == "https://example.org/jul.jpg"
    # A floating time is in the calendar's zone; a repeated UID keeps one event.
    floating = found["floating@x"]
    assert floating.title == "Konsert (flyttad)"
    assert floating.starts_at == datetime(2026, 12, 6, 18, 0, tzinfo=UTC)


def test_rss_items_take_their_event_time_or_a_future_publication_date() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"
      xmlns:ev="http://purl.org/rss/1.0/modules/event/"
      xmlns:media="http://search.yahoo.com/mrss/"><channel><title>x</title>
      <item><title>Foredrag</title><guid>g1</guid><link>https://x.dk/1</link>
        <ev:startdate>2026-12-02</ev:startdate>
        <media:content url="https://x.dk/1.jpg" medium="image"/></item>
      <item><title>Udstilling</title><link>https://x.dk/2</link>
        <pubDate>Wed, 09 Dec 2026 17:00:00 +0000</pubDate></item>
      <item><title>Nyhed</title><guid>g3</guid>
        <pubDate>Wed, 18 Nov 2026 17:00:00 +0000</pubDate></item>
    </channel></rss>"""
    found = parse_feed(body, NOW)
    assert [(event.uid, event.title) for event in found] == [
        ("g1", "Foredrag"),
        ("https://x.dk/2", "Udstilling"),  # no guid: the link is its key
    ]
    assert found[0].starts_at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert found[0].image_url == "https://x.dk/1.jpg"
    assert found[1].starts_at == datetime(2026, 12, 9, 17, 0, tzinfo=UTC)


def test_an_atom_feed_is_read_too() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><id>urn:x</id>
      <updated>2026-11-01T00:00:00Z</updated>
      <entry><title>Koncert</title><id>urn:e1</id><link href="https://x.dk/e1"/>
        <published>2026-12-24T15:00:00+01:00</published><updated>2026-11-01T00:00:00Z</updated></entry>
    </feed>"""
    [event] = parse_feed(body, NOW)
    assert (event.uid, event.link) == ("urn:e1", "https://x.dk/e1")
    assert event.starts_at == datetime(2026, 12, 24, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [b"", b"<html><body>events</body></html>", b"\x00\xff\xfe garbage", b"BEGIN:VCALENDAR\r\nX"],
)
def test_what_is_no_feed_is_a_feed_error(body: bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(body, NOW)
