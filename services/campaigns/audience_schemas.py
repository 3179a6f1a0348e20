"""Response bodies of the staff API about the audience: list figures and subscribers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from msgspec import Struct

from services.campaigns.schemas import Names


class StateCounts(Struct, kw_only=True):
    """Subscriptions of a list by state; a bounced address counts as bounced only."""

    confirmed: int = 0
    pending: int = 0
    unsubscribed: int = 0
    bounced: int = 0


class GrowthDay(Struct, kw_only=True):
    """Consent changes on a list on one UTC day; ``net`` is confirmed minus unsubscribed."""

    date: date
    confirmed: int
    unsubscribed: int
    net: int


class ListStatsOut(Struct, kw_only=True):
    """``GET /api/lists/{slug}/stats``: counts by state and 90 days of growth, oldest first."""

    slug: str
    counts: StateCounts
    days: list[GrowthDay]


class SubscriberSummary(Struct, kw_only=True):
    """A subscriber in search results."""

    id: int
    email: str
    name: str | None
    language: str
    status: str
    created_at: datetime


class SubscriberPage(Struct, kw_only=True):
    """``GET /api/subscribers``: one page of matches; ``next_cursor`` fetches the following."""

    items: list[SubscriberSummary]
    next_cursor: int | None


class MembershipOut(Struct, kw_only=True):
    """One of a subscriber's lists and the state there."""

    list: str
    names: Names
    state: str
    requested_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


class ConsentOut(Struct, kw_only=True):
    """One consent event: requested, confirmed or withdrawn, with where it came from."""

    at: datetime
    list: str
    event: str
    form: str
    language: str
    source_site: str | None


class DeliveryOut(Struct, kw_only=True):
    """The subscriber's copy of a campaign; the SMTP answer is kept for failures."""

    campaign_id: int
    subject: str
    status: str
    at: datetime
    smtp_code: int | None
    smtp_response: str | None


class CustomValueOut(Struct, kw_only=True):
    """A custom field's value, with the field's label per language when it is still defined."""

    key: str
    labels: Names | None
    value: Any


class SubscriberOut(Struct, kw_only=True):
    """``GET /api/subscribers/{id}``: what staff see about one subscriber."""

    id: int
    email: str
    name: str | None
    language: str
    status: str
    municipality: str | None
    municipality_name: str | None
    source_site: str | None
    created_at: datetime
    updated_at: datetime
    custom_fields: list[CustomValueOut]
    lists: list[MembershipOut]
    consent: list[ConsentOut]
    deliveries: list[DeliveryOut]
