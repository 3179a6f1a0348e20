"""HTTP routes for outgoing webhooks: endpoints, their delivery log and test events (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import webhooks
from services.campaigns.openapi import json_body
from services.campaigns.routes.security import requires
from services.campaigns.schemas import decode_json
from services.campaigns.webhook_schemas import (
    DeliveriesOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPatch,
    WebhooksOut,
)
from shared.settings import Settings


class WebhooksController(Controller):
    """``/api/webhooks``."""

    path = "/webhooks"
    tags = ("webhooks",)
    guards = [requires("admin")]  # noqa: RUF012 - Litestar's own shape

    @get("/")
    async def list_webhooks(self, db: NamedDependency[AsyncSession]) -> WebhooksOut:
        """Every webhook endpoint (admin)."""
        return WebhooksOut(items=await webhooks.list_endpoints(db))

    @post("/", status_code=201, audit="webhook.create", operation_class=json_body(WebhookCreate))
    async def create_webhook(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> WebhookCreated:
        """Register an endpoint; the answer carries its signing secret, shown only this once."""
        data = decode_json(await request.body(), WebhookCreate)
        return await webhooks.create_endpoint(db, settings, data)

    @get("/{webhook_id:int}")
    async def get_webhook(
        self, db: NamedDependency[AsyncSession], webhook_id: FromPath[int]
    ) -> WebhookOut:
        """One endpoint, with whether it is active and why it was disabled (admin)."""
        return await webhooks.get_endpoint(db, webhook_id)

    @patch("/{webhook_id:int}", audit="webhook.update", operation_class=json_body(WebhookPatch))
    async def update_webhook(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        webhook_id: FromPath[int],
    ) -> WebhookOut:
        """Change an endpoint; ``{"active": true}`` enables one disabled after failures."""
        data = decode_json(await request.body(), WebhookPatch)
        return await webhooks.update_endpoint(db, settings, webhook_id, data)

    @delete("/{webhook_id:int}", status_code=204, audit="webhook.delete")
    async def delete_webhook(
        self, db: NamedDependency[AsyncSession], webhook_id: FromPath[int]
    ) -> None:
        """Remove an endpoint and its delivery log (admin)."""
        await webhooks.delete_endpoint(db, webhook_id)

    @post("/{webhook_id:int}/test", status_code=202, audit="webhook.test")
    async def test_webhook(
        self, db: NamedDependency[AsyncSession], webhook_id: FromPath[int]
    ) -> dict[str, str]:
        """Queue a ``webhook.test`` event to this endpoint; its message id."""
        return {"message_id": await webhooks.send_test(db, webhook_id)}

    @get("/{webhook_id:int}/deliveries")
    async def get_deliveries(
        self,
        db: NamedDependency[AsyncSession],
        webhook_id: FromPath[int],
        before: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> DeliveriesOut:
        """The endpoint's deliveries, newest first: status, attempts, last answer, body."""
        return await webhooks.deliveries_page(db, webhook_id, before, limit)
