"""The states of Brevdue's records, named once for every service.

Each enum's values are the strings stored in the database; ``StrEnum`` members compare equal to
them, so queries and rows can use either.
"""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    """``campaigns.status``, written by the campaigns service (staff actions)."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"  # waits for campaigns.scheduled_at; staff may unschedule it
    SENDING = "sending"
    # A subject test: its sample is being sent. Then (shown, never stored) "waiting" for the
    # winner until the campaigns service picks it, and "sending" to the rest.
    TESTING = "testing"
    WAITING = "waiting"
    SENT = "sent"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    FAILED = "failed"


class RunState(StrEnum):
    """``campaign_runs.state``, written by the mailer: how far its fan-out and sending got."""

    FANNING_OUT = "fanning_out"
    SENDING = "sending"
    # The failure threshold tripped: the mailer claims nothing more of this campaign until a
    # resume job clears it. Staff never see it; they see ``campaigns.status = 'paused'``.
    PAUSE_REQUESTED = "pause_requested"
    DONE = "done"
    FAILED = "failed"


class DeliveryStatus(StrEnum):
    """``deliveries.status``: one recipient's copy of a campaign in the mailer's ledger."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    BOUNCED = "bounced"


class SubscriberStatus(StrEnum):
    """``subscribers.status``: whether any mail may go to the address."""

    ACTIVE = "active"
    BOUNCED = "bounced"  # the address bounced hard: no mail of any kind goes to it


class SubscriptionStatus(StrEnum):
    """``subscriptions.status``: one subscriber on one list."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class ConsentEvent(StrEnum):
    """``consent_events.event``: the consent history of one subscriber on one list."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"
