"""Requests whose URL cannot be read are answered 400 before a handler reads it.

The framework builds a request's URL from the Host header and the query string on first use. A
Host header that is no ``host[:port]`` (``a:b``, ``http://[``) or a query string that is not
UTF-8 makes that fail as a ValueError inside a handler. Checking once, in front of every
handler, turns it into a 400 with the reason. (Requests no handler takes, 404 and 405, never
build the URL: the error pages use the path alone.)
"""

from __future__ import annotations

from typing import Final

from litestar.datastructures import URL
from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.types import ASGIApp, Receive, Scope, Send

REASON: Final = "The Host header or the query string of this request is malformed."


def refuse_unreadable_url(app: ASGIApp) -> ASGIApp:
    """Middleware: refuse an HTTP request whose URL does not parse (ClientException, a 400
    answered by the app's error mapping); pass the rest on."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and not is_readable(scope):
            raise ClientException(REASON)
        await app(scope, receive, send)

    return middleware


def is_readable(scope: Scope) -> bool:
    """Whether the request's URL can be built from its Host header, path and query string."""
    try:
        URL.from_scope(scope)
    except (ValueError, UnicodeDecodeError):
        return False
    return True
