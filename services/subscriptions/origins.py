"""Which site a browser says a form post comes from: the origin in ``Origin`` or ``Referer``.

Both headers hold whatever the client sent. A value that is no URL at all (``http://[::1``,
``null``) names no site of ours, so it is refused like another site's origin: a 403 with the
reason, never a failure to parse.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from litestar import Request

from services.subscriptions.errors import CrossOriginRefused
from shared.settings import Settings


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute URL, lower-cased; None when it is not one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or too big
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def sent_origin(request: Request[Any, Any, Any]) -> str | None:
    """The raw ``Origin`` header, else the ``Referer`` header; None when neither was sent."""
    return request.headers.get("origin") or request.headers.get("referer")


def own_origins(request: Request[Any, Any, Any], settings: Settings) -> set[str]:
    """This service's origins: its public URL and the address it was called at."""
    candidates: Iterable[str | None] = (
        origin_of(settings.subscriptions_public_url),
        origin_of(f"{request.url.scheme}://{request.headers.get('host', '')}"),
    )
    return {origin for origin in candidates if origin is not None}


def require_same_origin(request: Request[Any, Any, Any], settings: Settings) -> None:
    """Refuse a POST a browser sent from another site, or with an origin that is no URL;
    a request without either header (no browser) passes, its token is the capability.

    Raises CrossOriginRefused.
    """
    sent = sent_origin(request)
    if sent is None:
        return
    origin = origin_of(sent)
    if origin is None or origin not in own_origins(request, settings):
        raise CrossOriginRefused(sent)
