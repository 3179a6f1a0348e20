"""``GET /api/dashboard``: the figures of the staff app's overview."""

from __future__ import annotations

from datetime import date, datetime

from msgspec import Struct

from services.campaigns.schemas import DayCount, Names


class DeliveryFigures(Struct, kw_only=True):
    """A campaign's delivery figures from the mailer's ledger."""

    recipients: int = 0
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    queued: int = 0


class ActiveCampaignOut(Struct, kw_only=True):
    """A campaign sending, paused or scheduled; ``progress`` in percent while it sends."""

    id: int
    subject: str
    # As stored; statuses newer than this service are passed on unchanged.
    status: str
    send_requested_at: datetime | None
    updated_at: datetime
    counts: DeliveryFigures
    progress: float | None


class RecentCampaignOut(Struct, kw_only=True):
    """A campaign the mailer finished sending."""

    id: int
    subject: str
    finished_at: datetime
    counts: DeliveryFigures


class SiteSignups(Struct, kw_only=True):
    """Residents who confirmed through one member site; ``key`` None: without any site."""

    key: str | None
    name: str | None
    signups: int


class ListSignups(Struct, kw_only=True):
    """Residents whose subscription to one list was confirmed."""

    slug: str
    names: Names
    signups: int


class DashboardOut(Struct, kw_only=True):
    """Campaigns under way, the last results, and confirmed sign-ups from ``since`` (UTC days)."""

    active: list[ActiveCampaignOut]
    recent: list[RecentCampaignOut]
    since: date
    days: list[DayCount]
    sites: list[SiteSignups]
    lists: list[ListSignups]
