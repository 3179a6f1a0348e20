"""Cross-origin rules for the widget's JSON calls: only a member site's own origins may make them.

Browsers send ``Origin`` on cross-origin calls and on every POST. A JSON call from an origin the
site does not list is refused (403); a call the site allows gets ``Access-Control-Allow-Origin``
echoing that origin. Plain HTML form posts are not JSON calls: the no-JavaScript form may sit on
any page, and double opt-in protects the address either way.

Handlers decide; ``add_cors_headers`` (a ``before_send`` hook) writes the headers, so error
answers (422 with field reasons) carry them too and the widget can read them.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from services.subscriptions.errors import CrossOriginRefused
from services.subscriptions.sites import Site
from shared.settings import Settings

ALLOW_METHODS: Final = "GET, POST, OPTIONS"
ALLOW_HEADERS: Final = "Content-Type, Accept, Accept-Language"
# Browsers cap this (Chromium at 2 hours); ten minutes keeps origin removals effective soon.
PREFLIGHT_MAX_AGE: Final = "600"
_STATE_KEY: Final = "brevdue_cors_origin"


def request_origin(request: Request[Any, Any, Any]) -> str | None:
    """The ``Origin`` header, if the client sent one."""
    origin = request.headers.get("origin")
    return origin.strip() if origin and origin.strip() else None


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, as a browser would send it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_same_origin(request: Request[Any, Any, Any], origin: str, settings: Settings) -> bool:
    """Whether ``origin`` is this service itself (its public URL or the host it was called as)."""
    host = request.headers.get("host", "")
    own = {origin_of(settings.subscriptions_public_url), f"{request.url.scheme}://{host}".lower()}
    return origin.lower() in own


def check_json_call(request: Request[Any, Any, Any], site: Site | None, settings: Settings) -> None:
    """Allow a JSON call from the site's origins (and same-origin or non-browser clients).

    Raises CrossOriginRefused for any other browser origin.
    """
    mark_vary(request)
    origin = request_origin(request)
    if origin is None or is_same_origin(request, origin, settings):
        return
    if site is not None and origin in site.allowed_origins:
        allow(request, origin)
        return
    raise CrossOriginRefused(origin)


def allow_if_listed(request: Request[Any, Any, Any], site: Site | None) -> None:
    """For reads: echo the origin when the site lists it; others simply get no CORS header."""
    mark_vary(request)
    origin = request_origin(request)
    if origin is not None and site is not None and origin in site.allowed_origins:
        allow(request, origin)


def allow(request: Request[Any, Any, Any], origin: str) -> None:
    """Let ``origin`` read this response."""
    request.scope.setdefault("state", {})[_STATE_KEY] = origin


def mark_vary(request: Request[Any, Any, Any]) -> None:
    """The answer depends on ``Origin``: caches must keep one copy per origin."""
    request.scope.setdefault("state", {}).setdefault(_STATE_KEY, "")


def preflight(request: Request[Any, Any, Any], allowed: bool) -> Response[None]:
    """The answer to an OPTIONS preflight: 204, with CORS grants only when ``allowed``."""
    headers = {"Vary": "Origin", "Allow": ALLOW_METHODS}
    origin = request_origin(request)
    if allowed and origin is not None:
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            }
        )
    return Response(None, status_code=204, headers=headers)


async def add_cors_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: write the CORS decision a handler recorded into the response."""
    if message["type"] != "http.response.start":
        return
    state: dict[str, Any] = scope.get("state") or {}
    origin = state.get(_STATE_KEY)
    if origin is None:
        return
    headers = MutableScopeHeaders.from_message(message)
    headers.add("Vary", "Origin")
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
