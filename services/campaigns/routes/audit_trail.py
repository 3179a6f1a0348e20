"""The one place API actions enter the staff audit trail.

A route names its action in its options (``audit="campaign.send"``); after it answers with a
2xx this middleware records who (the principal the permission check let through), what, on
which object and when, before the answer leaves, so an action is never reported done without
its entry.
"""

from __future__ import annotations

import json
from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from services.campaigns import permissions, staff_audit

AUDIT_OPTION: Final = "audit"
# Bodies are read only for field names and ids; anything larger is not looked at.
_MAX_BODY: Final = 1024 * 1024


def _json(raw: bytes) -> object:
    if not raw or len(raw) > _MAX_BODY:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


class AuditTrailMiddleware:
    """Record each successful audited API action in ``staff_audit``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through; on a 2xx answer, write the entry, then answer."""
        handler = scope.get("route_handler")
        action = (
            handler.opt.get(AUDIT_OPTION) if scope["type"] == ScopeType.HTTP and handler else None
        )
        if not action:
            await self.app(scope, receive, send)
            return
        request_body = bytearray()
        response_body = bytearray()
        held: list[Message] = []
        status = 0

        async def keep_request() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.request" and len(request_body) <= _MAX_BODY:
                request_body.extend(message.get("body", b""))
            return message

        async def hold_response(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(response_body) <= _MAX_BODY:
                response_body.extend(message.get("body", b""))
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                if 200 <= status < 300:
                    await self._record(
                        scope, str(action), bytes(request_body), bytes(response_body)
                    )
                for kept in held:
                    await send(kept)
                held.clear()

        await self.app(scope, keep_request, hold_response)

    async def _record(self, scope: Scope, action: str, request: bytes, response: bytes) -> None:
        object_ref, details = staff_audit.describe(
            action, dict(scope.get("path_params") or {}), _json(request), _json(response)
        )
        actor = permissions.actor(permissions.check(scope.get("user"), "viewer"))
        async with scope["litestar_app"].state.sessionmaker() as session:
            await staff_audit.record(session, actor, action, object_ref, details)
            await session.commit()
