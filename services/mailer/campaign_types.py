"""What the mailer reads and builds for a campaign: its source, a recipient, its compiled form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from jinja2 import Template
from markupsafe import Markup

from services.mailer import mime
from shared.statuses import CampaignStatus


@dataclass(frozen=True, slots=True)
class CampaignSource:
    """What the mailer reads about a campaign (from the campaigns service's tables)."""

    id: int
    subject: str
    body: str
    body_text: str | None
    from_address: str | None
    list_slugs: tuple[str, ...]
    updated_at: object  # part of the cache key: an edited campaign compiles again
    # campaigns.status: staff may pause or cancel a running campaign.
    status: str = CampaignStatus.SENDING
    # The lists it goes to: what its one-click unsubscribe link leaves.
    list_ids: tuple[int, ...] = ()
    # The layout its body was compiled into; that layout's footer carries the reader's links.
    layout: str | None = None
    # Language variants: the campaign's own subject and body are in ``fallback_language``
    # and go to readers whose language has no variant.
    fallback_language: str | None = None
    variants: tuple[VariantSource, ...] = ()
    # Whether its mail carries an open-tracking pixel (off unless staff switched it on).
    track_opens: bool = False
    # Whether it is shown in the public archive: its "view in the browser" link goes there.
    archive_public: bool = False
    # A digest campaign's event blocks (digest_blocks): (language, municipality, html, text),
    # municipality '' for readers of no municipality with a block of its own.
    digest: tuple[tuple[str, str, str, str], ...] = ()
    # A subject test: every subject tried (the campaign's own first), the sample's share in
    # percent, and once picked the winner (what the rest gets) and when it was picked.
    test_subjects: tuple[str, ...] = ()
    test_sample_percent: int | None = None
    test_winner: int | None = None
    test_decided_at: datetime | None = None

    @property
    def in_test(self) -> bool:
        """Whether this fan-out is of a subject test's sample (no winner picked yet)."""
        return bool(self.test_subjects) and self.test_winner is None


@dataclass(frozen=True, slots=True)
class VariantSource:
    """A campaign's subject and body in one language (campaign_variants)."""

    language: str
    subject: str
    body: str
    body_text: str | None


@dataclass(frozen=True, slots=True)
class Recipient:
    """One ledger row joined with its subscriber."""

    delivery_id: int
    subscriber_id: int
    key: str
    email: str
    name: str | None
    language: str
    message_id: str
    attempts: int = 0
    municipality: str | None = None
    # In a subject test's sample: the subject this recipient gets (deliveries.subject_variant).
    subject_variant: int | None = None
    # Under the age of digital consent: the message carries the original links and no pixel.
    minor: bool = False


@dataclass(frozen=True, slots=True)
class CompiledCampaign:
    """Templates and MIME skeleton of one campaign, shared by all its batches in a process."""

    id: int
    subject_source: str
    subject: Template
    body: Template
    body_text: Template | None
    skeleton: mime.CampaignSkeleton
    envelope_from: str
    list_ids: tuple[int, ...] = ()
    # The body carries the footer with the reader's links (a layout); none is added.
    footer_in_body: bool = False
    fallback_language: str | None = None
    variants: Mapping[str, CompiledVariant] = field(default_factory=dict)
    # campaign_links ids of the tracked links, in the order of ``tracked_links[i]`` in ``body``.
    link_ids: tuple[int, ...] = ()
    # The original URL of each tracked link, in the same order: what a minor's copy links to.
    link_urls: tuple[str, ...] = ()
    track_opens: bool = False
    archive_public: bool = False
    # A digest campaign's ``{{ digest }}`` per (language, municipality): HTML and text.
    digest: Mapping[tuple[str, str], tuple[Markup, str]] = field(default_factory=dict)

    def digest_for(self, language: str, municipality: str | None) -> tuple[Markup, str] | None:
        """The digest block a reader gets: their municipality's in their language, else the
        block of readers without one of their own; None for a campaign that is no digest."""
        if not self.digest:
            return None
        language = language if (language, "") in self.digest else "da"
        return self.digest.get((language, municipality or "")) or self.digest.get((language, ""))

    # A subject test's subjects (sources and templates, the campaign's own first) and the
    # winner, which every recipient outside the sample gets.
    test_subjects: tuple[tuple[str, Template], ...] = ()
    test_winner: int | None = None

    def subject_of(self, recipient: Recipient) -> tuple[str, Template] | None:
        """The test subject ``recipient`` gets (source and template); None: the usual one."""
        index = recipient.subject_variant
        if index is None:
            index = self.test_winner
        if index is None or not 0 <= index < len(self.test_subjects):
            return None
        return self.test_subjects[index]

    def variant_of(self, language: str) -> str | None:
        """The variant a reader of ``language`` gets: their own, else the fallback; None for
        a campaign without variants."""
        if not self.variants:
            return None
        return language if language in self.variants else self.fallback_language


@dataclass(frozen=True, slots=True)
class CompiledVariant:
    """One language variant's templates, compiled once per process like the campaign's own."""

    subject_source: str
    subject: Template
    body: Template
    body_text: Template | None
