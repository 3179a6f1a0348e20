"""Tracked links and the open pixel: ``GET /l/{token}`` and ``GET /o/{token}.gif``."""

from __future__ import annotations

import base64
from typing import Final

from litestar import Response, get
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Redirect

from services.subscriptions import tracking
from services.subscriptions.dependencies import Signer
from services.subscriptions.errors import UnknownTrackedLink

# A transparent 1×1 GIF.
PIXEL: Final = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
# Each click and open should reach us (no cache may answer for us), and the page the resident
# goes to should not learn the token from a Referer.
TRACKING_HEADERS: Final = {
    "Cache-Control": "no-store, private",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@get("/l/{token:str}", include_in_schema=False)
async def follow_link(token: FromPath[str], state: State, signer: Signer) -> Redirect:
    """Redirect to the stored URL of a tracked link (302) and record the click; 404 otherwise."""
    url = await tracking.follow_link(
        token, signer=signer, directory=state.tracking, redis=state.jobs
    )
    return Redirect(url, status_code=302, headers=TRACKING_HEADERS)


@get("/o/{name:str}", include_in_schema=False)
async def open_pixel(name: FromPath[str], state: State, signer: Signer) -> Response[bytes]:
    """The open pixel of a campaign that tracks opens: a GIF, with the open recorded."""
    token, dot, extension = name.rpartition(".")
    if not dot or extension != "gif":
        raise UnknownTrackedLink()
    await tracking.record_open(token, signer=signer, directory=state.tracking, redis=state.jobs)
    return Response(PIXEL, media_type="image/gif", headers=TRACKING_HEADERS)


TRACKING_ROUTES = [follow_link, open_pixel]
