"""Payloads that cross service boundaries, defined once and validated on both sides."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

import msgspec

MailCategory = Literal["confirm", "welcome", "export", "goodbye", "test"]

T = TypeVar("T", bound=msgspec.Struct)


class OutboundMail(msgspec.Struct, frozen=True, kw_only=True):
    """A fully rendered transactional mail the mailer delivers as it is."""

    message_key: str  # stable per logical mail: makes enqueueing idempotent
    category: MailCategory
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)


class StartCampaign(msgspec.Struct, frozen=True, kw_only=True):
    """Fan a campaign out to its audience: write its ledger rows and enqueue batches."""

    campaign_id: int


class DeliverBatch(msgspec.Struct, frozen=True, kw_only=True):
    """Deliver one batch of a campaign's ledger rows."""

    campaign_id: int
    delivery_ids: list[int]


class CancelCampaign(msgspec.Struct, frozen=True, kw_only=True):
    """Skip a cancelled campaign's remaining ledger rows and close its run."""

    campaign_id: int


class RetryFailed(msgspec.Struct, frozen=True, kw_only=True):
    """Queue a campaign's failed sends again (not bounced or skipped ones) and deliver them."""

    campaign_id: int


class SubscriberRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A staff request about one address (export or erase), run by the subscriptions worker.

    ``actor`` names who asked, as the audit log records it: ``staff:<api token id>``.
    """

    email: str
    actor: str
    request_id: str  # unique per request; the job id is derived from it


DeliveryProblemKind = Literal["hard_bounce", "complaint"]


class DeliveryProblem(msgspec.Struct, frozen=True, kw_only=True):
    """A hard bounce or a complaint about campaign mail, for the subscriptions service to act on.

    ``description`` is the provider's or the DSN's words, for logs of the mailer only: it may
    quote the address, so the subscriptions service never stores it.
    """

    subscriber_id: int
    campaign_id: int
    kind: DeliveryProblemKind
    code: int | None = None
    description: str = ""
    at: datetime


def to_job_arg(payload: msgspec.Struct) -> dict[str, Any]:
    """Turn a contract into plain builtins for the job serializer."""
    return msgspec.to_builtins(payload)  # type: ignore[no-any-return]


def from_job_arg(kind: type[T], value: Any) -> T:
    """Validate a job argument back into its contract type."""
    return msgspec.convert(value, kind)
