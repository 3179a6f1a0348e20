"""HTTP routes for staff requests about a resident's data (admin only)."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from litestar import Controller, Request, post
from litestar.di import NamedDependency

from services.campaigns import subscribers
from services.campaigns.auth import StaffToken
from services.campaigns.routes.security import requires
from services.campaigns.schemas import decode_json
from services.campaigns.subscribers import ErasureAccepted, SubscriberAddress
from shared.contracts import SubscriberExport


class SubscribersController(Controller):
    """``/api/subscribers``: export and erase one address (GDPR requests, admin only)."""

    path = "/subscribers"
    tags = ("subscribers",)

    @post("/export", status_code=200, guards=[requires("admin")], audit="subscriber.export")
    async def export_subscriber(
        self, request: Request[StaffToken, Any, Any], jobs: NamedDependency[ArqRedis]
    ) -> SubscriberExport:
        """Everything stored about ``email`` (recorded in the audit log)."""
        body = decode_json(await request.body(), SubscriberAddress)
        return await subscribers.export(jobs, body, request.user)

    @post("/erase", status_code=202, guards=[requires("admin")], audit="subscriber.erase")
    async def erase_subscriber(
        self, request: Request[StaffToken, Any, Any], jobs: NamedDependency[ArqRedis]
    ) -> ErasureAccepted:
        """Queue the erasure of ``email``; unknown addresses are suppressed all the same."""
        body = decode_json(await request.body(), SubscriberAddress)
        return await subscribers.request_erasure(jobs, body, request.user)
