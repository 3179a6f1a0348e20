"""Request and response bodies of the staff API, and strict JSON decoding of requests."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal, TypeVar

import msgspec
from msgspec import UNSET, Struct, UnsetType

from services.campaigns.errors import InvalidInput, MalformedRequest
from shared.languages import Language
from shared.statuses import CampaignStatus

T = TypeVar("T")


# --- lists ----------------------------------------------------------------------------------


class Names(Struct, forbid_unknown_fields=True, kw_only=True):
    """A text in every language Brevdue speaks."""

    da: str
    sv: str
    en: str


class Descriptions(Struct, forbid_unknown_fields=True, kw_only=True):
    """An optional text in every language Brevdue speaks."""

    da: str = ""
    sv: str = ""
    en: str = ""


class ListCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/lists``."""

    slug: str
    names: Names
    descriptions: Descriptions = msgspec.field(default_factory=Descriptions)
    is_public: bool = True
    double_optin: bool = True
    # A youth list: its sign-up asks the year of birth, and a resident under the age of digital
    # consent needs a guardian's confirmation. ``youth_fields``: the custom field keys such a
    # minor may give (any other custom value they send is not kept).
    youth: bool = False
    youth_fields: list[str] = msgspec.field(default_factory=list)


class WelcomeText(Struct, forbid_unknown_fields=True, kw_only=True):
    """A list's welcome mail in one language: plain-text subject and body, each a sandboxed
    Jinja2 template that may use ``subscriber.name`` and ``list.name``."""

    subject: str
    body: str


class Welcome(Struct, kw_only=True):
    """The welcome mail per language; null: none in that language (no fallback)."""

    da: WelcomeText | None = None
    sv: WelcomeText | None = None
    en: WelcomeText | None = None


class WelcomePatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """Languages given change (null removes that language's welcome); others stay."""

    da: WelcomeText | UnsetType | None = UNSET
    sv: WelcomeText | UnsetType | None = UNSET
    en: WelcomeText | UnsetType | None = UNSET


class ListOut(Struct, kw_only=True):
    """A mailing list as the API shows it."""

    id: int
    slug: str
    names: Names
    descriptions: Descriptions
    is_public: bool
    double_optin: bool
    created_at: datetime
    welcome: Welcome = msgspec.field(default_factory=Welcome)
    youth: bool = False
    youth_fields: list[str] = msgspec.field(default_factory=list)


class ListsOut(Struct, kw_only=True):
    """``GET /api/lists``."""

    items: list[ListOut]


class TextsPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """Some of the languages of a text; the ones left out keep their value."""

    da: str | UnsetType = UNSET
    sv: str | UnsetType = UNSET
    en: str | UnsetType = UNSET


class ListPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/lists/{slug}``: only the fields given change; the slug never does."""

    names: TextsPatch | UnsetType = UNSET
    descriptions: TextsPatch | UnsetType = UNSET
    is_public: bool | UnsetType = UNSET
    double_optin: bool | UnsetType = UNSET
    welcome: WelcomePatch | UnsetType = UNSET
    youth: bool | UnsetType = UNSET
    youth_fields: list[str] | UnsetType = UNSET


# --- member sites ---------------------------------------------------------------------------


class SiteCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/sites``: a website that embeds the sign-up form."""

    key: str
    name: str
    country: str
    municipality: str | None = None
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    default_lists: list[str] = msgspec.field(default_factory=list)
    # None: the language of the country (da for DK, sv for SE).
    default_language: str | None = None
    thank_you_url: str | None = None
    require_proof_of_work: bool = False
    # The sign-up form offers the resident an optional municipality field.
    asks_municipality: bool = False


class SitePatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/sites/{key}``: only the fields given change; the key never does."""

    name: str | UnsetType = UNSET
    country: str | UnsetType = UNSET
    municipality: str | UnsetType | None = UNSET
    allowed_origins: list[str] | UnsetType = UNSET
    default_lists: list[str] | UnsetType = UNSET
    default_language: str | UnsetType = UNSET
    thank_you_url: str | UnsetType | None = UNSET
    require_proof_of_work: bool | UnsetType = UNSET
    asks_municipality: bool | UnsetType = UNSET


class SiteOut(Struct, kw_only=True):
    """A member site as the API shows it; ``municipality`` is the stable id."""

    id: int
    key: str
    name: str
    country: str
    municipality: str | None
    municipality_name: str | None
    allowed_origins: list[str]
    default_lists: list[str]
    default_language: str
    thank_you_url: str | None
    require_proof_of_work: bool
    asks_municipality: bool
    created_at: datetime


class SitesOut(Struct, kw_only=True):
    """``GET /api/sites``."""

    items: list[SiteOut]


class SnippetsOut(Struct, kw_only=True):
    """``GET /api/sites/{key}/snippets``: three ways to embed the sign-up form, ready to paste."""

    html_form: str
    script: str
    iframe: str


class StatusCounts(Struct, kw_only=True):
    """Subscriptions (one per resident and list) by status."""

    pending: int = 0
    confirmed: int = 0
    unsubscribed: int = 0


class DayCount(Struct, kw_only=True):
    """Residents who signed up on one UTC day."""

    date: date
    signups: int


class SiteStatsOut(Struct, kw_only=True):
    """``GET /api/sites/{key}/stats``: what came in through one site."""

    site: str
    subscriptions: StatusCounts
    days: list[DayCount]


# --- custom subscriber fields ---------------------------------------------------------------


class FieldCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/fields``: a subscriber field staff define (format: shared.custom_fields)."""

    key: str
    labels: Names
    type: str
    choices: list[str] = msgspec.field(default_factory=list)
    required: bool = False
    public: bool = False
    max_length: int | None = None


class FieldPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/fields/{key}``: key and type are fixed once values may exist."""

    labels: TextsPatch | UnsetType = UNSET
    choices: list[str] | UnsetType = UNSET
    required: bool | UnsetType = UNSET
    public: bool | UnsetType = UNSET
    max_length: int | UnsetType | None = UNSET


class FieldOut(Struct, kw_only=True):
    """A custom field definition as the API shows it."""

    key: str
    labels: Names
    type: str
    choices: list[str]
    required: bool
    public: bool
    max_length: int | None
    created_at: datetime
    updated_at: datetime


class FieldsOut(Struct, kw_only=True):
    """``GET /api/fields``: in the order they were created."""

    items: list[FieldOut]


# --- campaigns ------------------------------------------------------------------------------


BodyFormatName = Literal["markdown", "html"]
LayoutName = Literal["simple", "banner", "card"]


class VariantIn(Struct, forbid_unknown_fields=True, kw_only=True):
    """A campaign's subject and body in one more language; the body in the campaign's format."""

    language: Language
    subject: str
    body: str
    body_text: str | None = None


SubjectTestMetric = Literal["clicks", "opens"]


class SubjectTestIn(Struct, forbid_unknown_fields=True, kw_only=True):
    """A subject test: the campaign's own subject and 1-3 ``other_subjects`` go to a sample
    (``sample_percent`` of the audience, chosen at random and the same on every count), each to
    an equal part of it; ``wait_seconds`` after the start, once the sample is sent, the subject
    with the highest share of unique clickers (or openers, with ``metric`` "opens", which needs
    open tracking) goes to the rest. Not with language variants."""

    other_subjects: list[str]
    sample_percent: int = 20
    wait_seconds: int = 4 * 3600
    metric: SubjectTestMetric = "clicks"


class SubjectFiguresOut(Struct, kw_only=True):
    """One subject of a test: its sample's mails sent and unique clickers and openers, and
    their share of the mails sent (0 when none was sent yet)."""

    subject: str
    sent: int
    clicks: int
    click_rate: float
    opens: int
    open_rate: float


class SubjectTestOut(Struct, kw_only=True):
    """A campaign's subject test: ``subjects`` in order (the campaign's own first), their
    figures, and once picked the ``winner`` (an index into ``subjects``), when and why:
    ``reason`` is "best_rate", "tie" (several had the best rate; the earliest of them won) or
    "no_engagement" (nobody clicked or opened; the first subject won); ``explanation`` says
    it in words."""

    subjects: list[str]
    sample_percent: int
    wait_seconds: int
    metric: SubjectTestMetric
    figures: list[SubjectFiguresOut]
    decide_after: datetime | None = None
    winner: int | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    explanation: str | None = None


class CampaignCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/campaigns``: templates are Jinja2, run in the staff sandbox.

    Without ``body_format`` the body is the HTML template itself, as written. With it
    (``markdown`` or ``html``) the body is compiled at save: Markdown rendered, HTML cleaned,
    wrapped in ``layout`` (default ``simple``) whose footer carries the reader's links, CSS
    inlined. ``variants`` give the subject and body in more languages; the campaign's own are
    in ``fallback_language`` and go to readers whose language has no variant."""

    subject: str
    body: str
    lists: list[str] = msgspec.field(default_factory=list)
    # Saved segments (ids) whose members get the campaign too; at least one list or segment.
    segments: list[int] = msgspec.field(default_factory=list)
    body_text: str | None = None
    from_address: str | None = None
    body_format: BodyFormatName | None = None
    layout: LayoutName | None = None
    fallback_language: Language | None = None
    variants: list[VariantIn] = msgspec.field(default_factory=list)
    # Open tracking (an image in the mail) is off unless switched on; opens are unreliable.
    track_opens: bool = False
    # Once sent, shown in the public archive (a page per language, the lists' Atom feeds).
    archive_public: bool = False
    subject_test: SubjectTestIn | None = None


class CampaignPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/campaigns/{id}``: only the fields given change."""

    subject: str | UnsetType = UNSET
    body: str | UnsetType = UNSET
    lists: list[str] | UnsetType = UNSET
    segments: list[int] | UnsetType = UNSET
    body_text: str | UnsetType | None = UNSET
    from_address: str | UnsetType | None = UNSET
    body_format: BodyFormatName | UnsetType | None = UNSET
    layout: LayoutName | UnsetType | None = UNSET
    fallback_language: Language | UnsetType | None = UNSET
    # Given: the campaign's variants are exactly these.
    variants: list[VariantIn] | UnsetType = UNSET
    track_opens: bool | UnsetType = UNSET
    archive_public: bool | UnsetType = UNSET
    # Given: the campaign's subject test is this one; null: it has none.
    subject_test: SubjectTestIn | UnsetType | None = UNSET


class Counts(Struct, kw_only=True):
    """Delivery figures, read from the mailer's ledger."""

    recipients: int = 0
    sent: int = 0
    failed: int = 0
    queued: int = 0


class CampaignSummary(Struct, kw_only=True):
    """A campaign in a listing."""

    id: int
    subject: str
    lists: list[str]
    status: CampaignStatus
    created_at: datetime
    send_requested_at: datetime | None
    counts: Counts
    updated_at: datetime | None = None
    segments: list[int] = msgspec.field(default_factory=list)
    # Status "scheduled": when it starts (UTC) and the zone staff chose.
    scheduled_at: datetime | None = None
    schedule_zone: str | None = None


class CampaignOut(Struct, kw_only=True):
    """One campaign with its templates."""

    id: int
    subject: str
    body: str
    body_text: str | None
    from_address: str | None
    lists: list[str]
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime
    send_requested_at: datetime | None
    counts: Counts
    segments: list[int] = msgspec.field(default_factory=list)
    # Status "failed": why the mailer could not send it at all.
    failure: str | None = None
    # Status "paused" by the mailer: why it stopped (too much of its mail failed). None when
    # staff paused it.
    pause_reason: str | None = None
    # Status "scheduled": when it starts (UTC), the zone staff chose and that time in it.
    scheduled_at: datetime | None = None
    schedule_zone: str | None = None
    scheduled_local: datetime | None = None
    # The body as staff wrote it is ``body``; with a format, ``compiled_body`` is the template
    # the mailer renders.
    body_format: BodyFormatName | None = None
    layout: LayoutName | None = None
    compiled_body: str | None = None
    fallback_language: Language | None = None
    variants: list[VariantIn] = msgspec.field(default_factory=list)
    track_opens: bool = False
    archive_public: bool = False
    subject_test: SubjectTestOut | None = None


class CampaignPage(Struct, kw_only=True):
    """``GET /api/campaigns``: newest first; ``total`` counts those matching the filter."""

    items: list[CampaignSummary]
    page: int
    per_page: int
    total: int


class FailureOut(Struct, kw_only=True):
    """One failed send of a campaign, from the mailer's ledger."""

    delivery_id: int
    email: str | None  # None when the subscriber has been erased since
    attempts: int
    last_code: int | None
    last_response: str | None
    updated_at: datetime


class FailurePage(Struct, kw_only=True):
    """``GET /api/campaigns/{id}/failures``: failed sends in ledger order."""

    items: list[FailureOut]
    page: int
    per_page: int
    total: int


class RetryFailedOut(Struct, kw_only=True):
    """``POST /api/campaigns/{id}/retry-failed``: what was handed to the mailer."""

    campaign_id: int
    failed: int  # rows the mailer will queue again (more may fail before it runs)


class PreviewRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/campaigns/{id}/preview``: whom to imagine as the reader.

    ``subscriber_id``: a confirmed subscriber of the campaign's lists, rendered as they would
    get it; without it a sample reader called ``name``. ``language``: the footer's and the
    templates' ``subscriber.language``; by default the subscriber's own (a sample's: da).
    """

    language: Language | None = None
    name: str | None = "Maja"
    subscriber_id: int | None = None


class PreviewOut(Struct, kw_only=True):
    """A campaign rendered as one reader gets it: the footer added, the text part as sent
    (derived from the HTML when the campaign has no text template). Its links lead nowhere."""

    subject: str
    html: str
    text: str | None
    language: Language = "da"
    subscriber_id: int | None = None
    from_address: str = ""
    to: str = ""
    lists: list[str] = msgspec.field(default_factory=list)
    # Bytes of the HTML as sent; Gmail clips a message above about 102 KB.
    size: int = 0
    clipped: bool = False


# --- health ---------------------------------------------------------------------------------


class HealthOut(Struct, kw_only=True):
    """Liveness or readiness; ``checks`` names what failed and why."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = msgspec.field(default_factory=dict)


# --- decoding -------------------------------------------------------------------------------

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"^Object (?P<what>missing required|contains unknown) field `(?P<name>[^`]+)`$")


def decode_json(raw: bytes, kind: type[T], *, empty_ok: bool = False) -> T:
    """Decode a JSON body into ``kind``; raise MalformedRequest or InvalidInput naming the field."""
    if empty_ok and not raw.strip():
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        field, reason = _field_reason(str(exc))
        raise InvalidInput(
            "the request does not have the expected fields", {field: reason}
        ) from exc
    except msgspec.DecodeError as exc:
        raise MalformedRequest("the request body is not valid JSON", {"body": str(exc)}) from exc


def _field_reason(message: str) -> tuple[str, str]:
    """Turn msgspec's "Expected `str`, got `int` - at `$.subject`" into (field, reason)."""
    match = _AT.match(message)
    reason, path = (match["reason"], match["path"] or "") if match else (message, "")
    field = path.lstrip(".")
    named = _NAMED.match(reason)
    if named:
        field = f"{field}.{named['name']}" if field else named["name"]
        reason = "is required" if named["what"] == "missing required" else "is not a known field"
    return field or "body", reason


# --- organisation layout --------------------------------------------------------------------


class OrganisationLayout(Struct, forbid_unknown_fields=True, kw_only=True):
    """``GET``/``PUT /api/organisation``: what every campaign layout shows around the body.
    ``logo_url`` is empty or an https address; colours are hex (``#1d4e89``). Drafts pick up a
    change when they are next saved; campaigns already sent keep what they were sent with."""

    name: str
    logo_url: str = ""
    postal_address: str = ""
    accent_colour: str = "#1d4e89"
    background_colour: str = "#f4f4f4"
    footer_text: str = ""
