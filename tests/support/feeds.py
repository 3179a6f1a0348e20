"""An HTTP server of event feeds for tests: valid, malformed, huge, slow, changing, moving."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def ics_feed(
    events: list[tuple[str, str, datetime, str]], zone: str = "Europe/Copenhagen"
) -> bytes:
    """An iCalendar document of (uid, title, local start, place) events in ``zone``."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Brevdue tests//EN"]
    for uid, title, start, place in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"SUMMARY:{title}",
            f"DTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}",
            f"LOCATION:{place}",
            f"URL:https://example.org/events/{uid}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def rss_feed(events: list[tuple[str, str, datetime, str]]) -> bytes:
    """An RSS 2.0 document of (guid, title, aware start, place) events (RSS event module)."""
    items = "".join(
        f"<item><title>{title}</title><guid>{guid}</guid>"
        f"<link>https://example.org/rss/{guid}</link>"
        f"<ev:startdate>{start.isoformat()}</ev:startdate><ev:location>{place}</ev:location>"
        f'<enclosure url="https://example.org/img/{guid}.jpg" type="image/jpeg" length="1"/>'
        "</item>"
        for guid, title, start, place in events
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel><title>Events</title>'
        f"<link>https://example.org/</link>{items}</channel></rss>"
    ).encode()


@dataclass
class FeedApp:
    """An ASGI app serving ``documents`` by path with an ETag and Last-Modified, answering
    conditional GETs with 304; ``/slow`` trickles, ``/huge`` is endless, ``/away`` redirects
    to another host, ``/moved`` to a path of its own."""

    documents: dict[str, bytes] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def publish(self, path: str, body: bytes) -> None:
        """Serve ``body`` at ``path`` as a new version."""
        self.documents[path] = body
        self.versions[path] = self.versions.get(path, 0) + 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append((path, headers))
        if path == "/slow":
            await self._start(send, 200, [(b"content-type", b"text/calendar")])
            for _ in range(100):
                await send({"type": "http.response.body", "body": b"X", "more_body": True})
                await asyncio.sleep(0.1)
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/huge":
            await self._start(send, 200, [(b"content-type", b"text/calendar")])
            chunk = b"BEGIN:VEVENT\r\n" * 1000
            for _ in range(1000):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        if path in ("/away", "/moved"):
            target = b"http://other.example/feed.ics" if path == "/away" else b"/valid.ics"
            await self._start(send, 302, [(b"location", target)])
            await send({"type": "http.response.body", "body": b""})
            return
        if path not in self.documents:
            await self._start(send, 404, [])
            await send({"type": "http.response.body", "body": b"not found"})
            return
        etag = f'"v{self.versions[path]}"'
        modified = (datetime(2026, 1, 1) + timedelta(days=self.versions[path])).strftime(
            "%a, %d %b %Y %H:%M:%S GMT"
        )
        validators = [(b"etag", etag.encode()), (b"last-modified", modified.encode())]
        if headers.get("if-none-match") == etag:
            await self._start(send, 304, validators)
            await send({"type": "http.response.body", "body": b""})
            return
        await self._start(send, 200, [(b"content-type", b"application/octet-stream"), *validators])
        await send({"type": "http.response.body", "body": self.documents[path]})

    @staticmethod
    async def _start(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
