"""HTTP routes about residents: search and one subscriber (viewer), and GDPR requests (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from arq.connections import ArqRedis
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import subscriber_lookup, subscribers
from services.campaigns.audience_schemas import SubscriberOut, SubscriberPage
from services.campaigns.auth import StaffToken
from services.campaigns.openapi import json_body
from services.campaigns.routes.security import requires
from services.campaigns.schemas import decode_json
from services.campaigns.subscribers import ErasureAccepted, SubscriberAddress
from shared.contracts import SubscriberExport


class SubscribersController(Controller):
    """``/api/subscribers``: search, one subscriber, and export and erase one address (GDPR
    requests, admin only)."""

    path = "/subscribers"
    tags = ("subscribers",)

    @get("/")
    async def search_subscribers(
        self,
        *,
        db: NamedDependency[AsyncSession],
        q: Annotated[str, QueryParameter(max_length=subscriber_lookup.MAX_QUERY)] = "",
        by: Annotated[str, QueryParameter(description="email or name")] = "email",
        cursor: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=subscriber_lookup.MAX_PAGE)
        ] = subscriber_lookup.MAX_PAGE,
    ) -> SubscriberPage:
        """Subscribers whose address or name starts with ``q`` (taken literally), 50 at most."""
        return await subscriber_lookup.search(db, q, by=by, cursor=cursor, limit=limit)

    @get("/{subscriber_id:int}")
    async def get_subscriber(
        self, db: NamedDependency[AsyncSession], subscriber_id: FromPath[int]
    ) -> SubscriberOut:
        """One subscriber: lists and states, consent history, recent deliveries."""
        return await subscriber_lookup.get_subscriber(db, subscriber_id)

    @post(
        "/export",
        status_code=200,
        guards=[requires("admin")],
        audit="subscriber.export",
        operation_class=json_body(SubscriberAddress),
    )
    async def export_subscriber(
        self, request: Request[StaffToken, Any, Any], jobs: NamedDependency[ArqRedis]
    ) -> SubscriberExport:
        """Everything stored about ``email`` (recorded in the audit log)."""
        body = decode_json(await request.body(), SubscriberAddress)
        return await subscribers.export(jobs, body, request.user)

    @post(
        "/erase",
        status_code=202,
        guards=[requires("admin")],
        audit="subscriber.erase",
        operation_class=json_body(SubscriberAddress),
    )
    async def erase_subscriber(
        self, request: Request[StaffToken, Any, Any], jobs: NamedDependency[ArqRedis]
    ) -> ErasureAccepted:
        """Queue the erasure of ``email``; unknown addresses are suppressed all the same."""
        body = decode_json(await request.body(), SubscriberAddress)
        return await subscribers.request_erasure(jobs, body, request.user)
