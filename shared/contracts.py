"""Payloads that cross service boundaries, defined once and validated on both sides."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

MailCategory = Literal["confirm", "welcome", "export", "goodbye", "test", "staff"]


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


ImportMode = Literal["attested", "confirm"]


class ImportSubscribers(msgspec.Struct, frozen=True, kw_only=True):
    """A staff import of an uploaded CSV file (kept in Redis under ``key``) into one list.

    Mode ``attested`` carries the consent attestation (basis, when and how consent was
    collected, who attests); mode ``confirm`` mails every new address the double opt-in link.
    ``columns`` maps fields (``email``, ``name``, ``language``, ``municipality``,
    ``custom.<key>``) to header names. ``actor`` is ``staff:user:<id>`` or ``staff:token:<id>``.
    """

    key: str
    list_slug: str
    actor: str
    mode: ImportMode
    columns: dict[str, str]
    update_existing: bool = False
    default_language: str = "da"
    consent_basis: str | None = None
    consent_collected: str | None = None
    consent_method: str | None = None
    attested_by: str | None = None


# --- results: what a job hands back to whoever waits for it ---------------------------------


class BatchResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one deliver_batch job did with its rows."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0


class SubscriberExport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything stored about an address, or found=false (suppressed: it was erased)."""

    found: bool
    suppressed: bool
    data: dict[str, Any] | None


class ErasureReport(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a staff erasure did: ``reason`` says why nothing was erased or suppressed."""

    erased: bool
    suppressed: bool = False
    reason: str | None = None
