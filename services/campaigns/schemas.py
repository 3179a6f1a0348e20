"""Request and response bodies of the staff API, and strict JSON decoding of requests."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal, TypeVar

import msgspec
from msgspec import UNSET, Struct, UnsetType

from services.campaigns.errors import InvalidInput, MalformedRequest

Language = Literal["da", "sv", "en"]
CampaignStatus = Literal["draft", "sending", "sent", "paused", "cancelled"]

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


class ListOut(Struct, kw_only=True):
    """A mailing list as the API shows it."""

    id: int
    slug: str
    names: Names
    descriptions: Descriptions
    is_public: bool
    double_optin: bool
    created_at: datetime


class ListsOut(Struct, kw_only=True):
    """``GET /api/lists``."""

    items: list[ListOut]


# --- campaigns ------------------------------------------------------------------------------


class CampaignCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/campaigns``: templates are Jinja2, run in the staff sandbox."""

    subject: str
    body: str
    lists: list[str]
    body_text: str | None = None
    from_address: str | None = None


class CampaignPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/campaigns/{id}``: only the fields given change."""

    subject: str | UnsetType = UNSET
    body: str | UnsetType = UNSET
    lists: list[str] | UnsetType = UNSET
    body_text: str | UnsetType | None = UNSET
    from_address: str | UnsetType | None = UNSET


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


class CampaignPage(Struct, kw_only=True):
    """``GET /api/campaigns``: newest first."""

    items: list[CampaignSummary]
    page: int
    per_page: int
    total: int


class PreviewRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/campaigns/{id}/preview``: whom to imagine as the reader."""

    language: Language = "da"
    name: str | None = "Maja"


class PreviewOut(Struct, kw_only=True):
    """A campaign rendered with sample data."""

    subject: str
    html: str
    text: str | None


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
