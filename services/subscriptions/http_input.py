"""Reading what a request carries: the sign-up body (JSON or form) and the client's address.

Shared by every route module, so none of them imports another's helpers.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.enums import RequestEncodingType

from services.subscriptions.abuse import client_address, trusted_networks
from services.subscriptions.errors import UnsupportedContentType
from services.subscriptions.form_body import read_form
from services.subscriptions.schemas import SubscribeBody, decode_json_body, form_to_body
from shared.settings import Settings

AnyRequest: TypeAlias = Request[Any, Any, Any]


async def read_subscribe_body(request: AnyRequest) -> tuple[SubscribeBody, bool]:
    """The sign-up fields and whether they came as JSON (else as a form)."""
    media_type = request.content_type[0]
    if media_type == "application/json" or media_type.endswith("+json"):
        return decode_json_body(await request.body()), True
    if media_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
        return form_to_body(await read_form(request)), False
    raise UnsupportedContentType(media_type or "(none)")


def client_ip(request: AnyRequest) -> str | None:
    """The client's address: the peer, or X-Forwarded-For when BREVDUE_TRUSTED_PROXIES lists
    the peer."""
    if not request.client:
        return None
    settings: Settings = request.app.state.settings
    forwarded = request.headers.getall("x-forwarded-for", [])
    trusted = trusted_networks(settings.trusted_proxies)
    return client_address(request.client.host, forwarded, trusted)
