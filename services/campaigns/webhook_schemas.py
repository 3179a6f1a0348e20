"""Request and response bodies of ``/api/webhooks`` (kept apart from the query rows)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from msgspec import UNSET, Struct, UnsetType

from services.campaigns.queries.webhooks import DeliveryRow, EndpointRow


class WebhookCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/webhooks``: an https:// URL and the event types it receives."""

    url: str
    events: list[str]
    description: str = ""


class WebhookPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/webhooks/{id}``: only the fields given change; ``active`` re-enables."""

    url: str | UnsetType = UNSET
    events: list[str] | UnsetType = UNSET
    description: str | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class WebhookOut(Struct, kw_only=True):
    """An endpoint as the API shows it; its secret only once, at creation."""

    id: int
    url: str
    description: str
    events: list[str]
    active: bool
    failures_in_row: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime


class WebhookCreated(WebhookOut, kw_only=True):
    """``POST /api/webhooks``: the endpoint with its signing secret, shown this one time."""

    secret: str


class WebhooksOut(Struct, kw_only=True):
    """``GET /api/webhooks``."""

    items: list[WebhookOut]


class DeliveryOut(Struct, kw_only=True):
    """One event for one endpoint: its status, attempts and the last answer."""

    id: int
    message_id: str
    event_type: str
    status: str
    attempts: int
    last_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    payload: msgspec.Raw


class DeliveriesOut(Struct, kw_only=True):
    """``GET /api/webhooks/{id}/deliveries``: newest first; ``before`` pages back."""

    items: list[DeliveryOut]
    before: int | None


def webhook_out(row: EndpointRow) -> WebhookOut:
    """The API shape of an endpoint, without its secret."""
    return WebhookOut(
        id=row.id,
        url=row.url,
        description=row.description,
        events=list(row.events),
        active=row.active,
        failures_in_row=row.failures_in_row,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
    )


def delivery_out(row: DeliveryRow) -> DeliveryOut:
    """The API shape of a delivery, with the body it sends."""
    return DeliveryOut(
        id=row.id,
        message_id=row.message_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        last_code=row.last_code,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        payload=msgspec.Raw(row.body.encode()),
    )
