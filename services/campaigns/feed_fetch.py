"""One conditional GET of an event feed, within limits: http and https only, redirects only
to the feed's own host, a time limit on the whole answer (a feed that trickles bytes is cut off
as one that never answers), and a size limit on the body read as it streams in."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx

from services.campaigns.errors import N_, FeedError

_SCHEMES: Final = ("http", "https")
_REDIRECTS: Final = (301, 302, 303, 307, 308)
_MAX_REDIRECTS: Final = 3
_ACCEPT: Final = (
    "text/calendar, application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
)


@dataclass(frozen=True, slots=True)
class FetchedFeed:
    """What a fetch brought: the body, or None when the feed has not changed since the
    validators sent; and the validators for the next fetch."""

    body: bytes | None
    etag: str | None
    last_modified: str | None


def check_feed_url(url: str) -> str:
    """``url`` if it is an absolute http or https address; FeedError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise FeedError(N_("a feed address must start with http:// or https://"))
    return url.strip()


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    time_limit: float,
    max_bytes: int,
) -> FetchedFeed:
    """GET ``url`` with the validators of the last fetch; FeedError saying why it failed."""
    headers = {"Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(time_limit):
            return await _follow(client, check_feed_url(url), headers, max_bytes)
    except TimeoutError as exc:
        raise FeedError(N_("the feed did not answer in time")) from exc
    except httpx.HTTPError as exc:
        raise FeedError(N_("the feed cannot be reached"), {"detail": type(exc).__name__}) from exc


async def _follow(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], max_bytes: int
) -> FetchedFeed:
    host = urlsplit(url).hostname
    for _ in range(_MAX_REDIRECTS + 1):
        async with client.stream("GET", url, headers=headers, follow_redirects=False) as answer:
            if answer.status_code in _REDIRECTS:
                target = urljoin(url, answer.headers.get("location", ""))
                parts = urlsplit(target)
                # A feed moved within its own site is followed; anywhere else it is not, so a
                # registered address cannot send the fetcher to an internal host.
                if parts.scheme not in _SCHEMES or parts.hostname != host:
                    raise FeedError(N_("the feed redirects to another host"))
                url = target
                continue
            if answer.status_code == 304:
                return FetchedFeed(None, *_validators(answer, headers))
            if answer.status_code != 200:
                raise FeedError(
                    N_("the feed answered with an HTTP error"), {"status": str(answer.status_code)}
                )
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FeedError(N_("the feed is larger than allowed"))
            body = bytearray()
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FeedError(N_("the feed is larger than allowed"))
            return FetchedFeed(bytes(body), *_validators(answer, {}))
    raise FeedError(N_("the feed redirects too often"))


def _validators(answer: httpx.Response, sent: dict[str, str]) -> tuple[str | None, str | None]:
    # A 304 may leave a validator out: the one sent stays valid.
    etag = answer.headers.get("etag") or sent.get("If-None-Match")
    modified = answer.headers.get("last-modified") or sent.get("If-Modified-Since")
    return (etag[:500] if etag else None, modified[:100] if modified else None)
