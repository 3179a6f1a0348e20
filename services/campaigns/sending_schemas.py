"""Request and answer bodies of sending a campaign: schedule, test send, progress."""

from __future__ import annotations

from datetime import datetime

import msgspec
from msgspec import Struct

from shared.languages import Language
from shared.statuses import CampaignStatus


class ScheduleRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/campaigns/{id}/schedule``.

    ``at`` is a local date and time without offset (``2027-05-01T09:00``), read in ``zone``; a
    time with an offset (``2027-10-31T02:30+01:00``) is taken as it is, and ``zone`` then only
    says how to show it.
    """

    at: str
    zone: str = "Europe/Copenhagen"


class TestSendRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/campaigns/{id}/test``: up to five addresses, rendered as a subscriber or a
    sample one."""

    to: list[str]
    subscriber_id: int | None = None
    # The reader's language (so the variant sent); default: the subscriber's own, or Danish.
    language: Language | None = None


class TestSendOut(Struct, kw_only=True):
    """Test messages queued for the transactional mailer."""

    campaign_id: int
    to: list[str]
    subject: str
    rendered_as: str  # "sample" or "subscriber:<id>"


class MinuteOut(Struct, kw_only=True):
    """Messages the relay accepted in one UTC minute."""

    minute: datetime
    sent: int


class VariantFiguresOut(Struct, kw_only=True):
    """What became of the messages made from one language variant."""

    language: Language
    sent: int
    failed: int
    bounced: int


class ProgressOut(Struct, kw_only=True):
    """``GET /api/campaigns/{id}/progress``: how far a campaign's sending has come.

    ``skipped`` are recipients suppressed or unsubscribed before their turn; ``unsubscribed``
    residents who left through a link in this campaign's mail. ``estimated_finish`` comes from
    the rate of the last five minutes and is null when nothing is left or nothing moves.
    """

    campaign_id: int
    status: CampaignStatus
    recipients: int
    sent: int
    failed: int
    bounced: int
    skipped: int
    waiting: int
    unsubscribed: int
    percent: float
    per_minute: list[MinuteOut]
    rate_per_minute: float
    estimated_finish: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    scheduled_at: datetime | None
    schedule_zone: str | None
    # Per language variant (none for a campaign without variants).
    variants: list[VariantFiguresOut] = msgspec.field(default_factory=list)
