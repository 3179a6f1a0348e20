"""Outgoing webhooks: the endpoints staff register, the body each event sends, and fan-out.

Each event from the resident events stream becomes one delivery row per active endpoint that
asked for its type; webhook_dispatch.py sends them. Bodies name residents only by their
pseudonymous key and lists by slug (docs/webhooks.md lists every field).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
import structlog
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.errors import N_, InvalidInput, NotFound
from services.campaigns.queries import webhooks as rows
from services.campaigns.queries.common import MAX_ID
from services.campaigns.webhook_http import url_problem
from services.campaigns.webhook_schemas import (
    DeliveriesOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPatch,
    delivery_out,
    webhook_out,
)
from services.campaigns.webhook_signing import new_message_id, new_secret
from shared.clock import utcnow
from shared.events import EVENT_TYPES, ResidentEvent
from shared.settings import Settings

log = structlog.get_logger(__name__)

TEST_EVENT: Final = "webhook.test"
MAX_DESCRIPTION: Final = 200
MAX_PAGE: Final = 100


def _check_events(events: Sequence[str]) -> list[str]:
    unknown = [name for name in events if name not in EVENT_TYPES]
    if unknown or not events:
        raise InvalidInput(
            "the webhook is not valid",
            {"events": N_("choose one or more of the event types")},
        )
    return [name for name in EVENT_TYPES if name in events]  # one order, no repeats


def _check_url(url: str, settings: Settings) -> str:
    problem = url_problem(url.strip(), settings.webhook_allow_loopback_http)
    if problem is not None:
        raise InvalidInput(N_("the webhook is not valid"), {"url": problem})
    return url.strip()


def _check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            N_("the webhook is not valid"), {"description": N_("at most 200 characters")}
        )
    return description.strip()


async def _endpoint(session: AsyncSession, endpoint_id: int) -> rows.EndpointRow:
    row = await rows.endpoint_by_id(session, endpoint_id) if 0 < endpoint_id <= MAX_ID else None
    if row is None:
        raise NotFound("webhook", endpoint_id)
    return row


async def create_endpoint(
    session: AsyncSession, settings: Settings, data: WebhookCreate
) -> WebhookCreated:
    """Register an endpoint; the answer carries its secret, which is never shown again."""
    url = _check_url(data.url, settings)
    events = _check_events(data.events)
    description = _check_description(data.description)
    secret = new_secret()
    endpoint_id = await rows.insert_endpoint(
        session, url=url, description=description, events=events, secret=secret, now=utcnow()
    )
    await session.commit()
    log.info("webhook.created", endpoint_id=endpoint_id, events=events)
    out = webhook_out(await _endpoint(session, endpoint_id))
    return WebhookCreated(**msgspec.structs.asdict(out), secret=secret)


async def list_endpoints(session: AsyncSession) -> list[WebhookOut]:
    """Every endpoint."""
    return [webhook_out(row) for row in await rows.all_endpoints(session)]


async def get_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookOut:
    """One endpoint; 404 if there is none."""
    return webhook_out(await _endpoint(session, endpoint_id))


async def update_endpoint(
    session: AsyncSession, settings: Settings, endpoint_id: int, data: WebhookPatch
) -> WebhookOut:
    """Change an endpoint; ``active`` true re-enables one that was disabled after failures."""
    await _endpoint(session, endpoint_id)
    now = utcnow()
    await rows.update_endpoint(
        session,
        endpoint_id,
        now,
        url=None if data.url is UNSET else _check_url(data.url, settings),
        events=None if data.events is UNSET else _check_events(data.events),
        description=None if data.description is UNSET else _check_description(data.description),
    )
    await session.commit()
    log.info("webhook.updated", endpoint_id=endpoint_id)
    if data.active is not UNSET:
        return await set_active(session, endpoint_id, data.active)
    return webhook_out(await _endpoint(session, endpoint_id))


async def set_active(session: AsyncSession, endpoint_id: int, active: bool) -> WebhookOut:
    """Enable (its run of failures forgotten) or disable an endpoint."""
    await _endpoint(session, endpoint_id)
    reason = None if active else "disabled by staff"
    await rows.set_endpoint_active(session, endpoint_id, active, utcnow(), reason)
    await session.commit()
    log.info("webhook.enabled" if active else "webhook.disabled", endpoint_id=endpoint_id)
    return webhook_out(await _endpoint(session, endpoint_id))


async def delete_endpoint(session: AsyncSession, endpoint_id: int) -> None:
    """Remove an endpoint with its delivery log; 404 if there is none."""
    if not 0 < endpoint_id <= MAX_ID or not await rows.delete_endpoint(session, endpoint_id):
        raise NotFound("webhook", endpoint_id)
    await session.commit()
    log.info("webhook.deleted", endpoint_id=endpoint_id)


async def send_test(session: AsyncSession, endpoint_id: int) -> str:
    """Queue a ``webhook.test`` delivery to one endpoint; its message id.

    A disabled endpoint keeps it queued until it is enabled again.
    """
    endpoint = await _endpoint(session, endpoint_id)
    now = utcnow()
    message_id = new_message_id()
    text = body(TEST_EVENT, now, {"endpoint_id": endpoint.id})
    test = rows.NewDelivery(endpoint.id, message_id, f"test:{message_id}", TEST_EVENT, text)
    await rows.add_deliveries(session, [test], now)
    await session.commit()
    log.info("webhook.test_queued", endpoint_id=endpoint_id)
    return message_id


async def deliveries_page(
    session: AsyncSession, endpoint_id: int, before: int | None, limit: int = 50
) -> DeliveriesOut:
    """An endpoint's delivery log, newest first, ``limit`` at a time."""
    await _endpoint(session, endpoint_id)
    limit = max(1, min(limit, MAX_PAGE))
    found = await rows.deliveries_of(session, endpoint_id, before=before, limit=limit + 1)
    page = found[:limit]
    return DeliveriesOut(
        items=[delivery_out(row) for row in page],
        before=page[-1].id if len(found) > limit else None,
    )


def body(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """A delivery's JSON body in the Standard Webhooks shape: type, timestamp, data."""
    return msgspec.json.encode(
        {"type": event_type, "timestamp": at.isoformat(), "data": data}
    ).decode()


def event_data(event: ResidentEvent) -> dict[str, Any]:
    """What an event tells a receiver: no address, no name, only what the event is about."""
    if event.type == "campaign.sent":
        return {"campaign_id": event.campaign_id, "recipients": event.recipients}
    data: dict[str, Any] = {"subscriber": event.subscriber_key, "lists": list(event.lists)}
    if event.campaign_id is not None:  # the campaign's mail it bounced, or left from
        data["campaign_id"] = event.campaign_id
    return data


async def fan_out(session: AsyncSession, source: str, event: ResidentEvent) -> int:
    """Queue one delivery of ``event`` per active endpoint that wants it; how many were new.

    ``source`` (the stream entry's id) makes a second reading of the same entry add nothing.
    """
    wanted = [
        endpoint
        for endpoint in await rows.all_endpoints(session)
        if endpoint.active and event.type in endpoint.events
    ]
    if not wanted:
        return 0
    text = body(event.type, datetime.fromtimestamp(event.at, UTC), event_data(event))
    added = await rows.add_deliveries(
        session,
        [
            rows.NewDelivery(endpoint.id, new_message_id(), source, event.type, text)
            for endpoint in wanted
        ],
        utcnow(),
    )
    await session.commit()
    return added
