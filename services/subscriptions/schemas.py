"""Request and response shapes of the public API, and the checks that turn input into them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any, Literal

import msgspec
from email_validator import EmailNotValidError, validate_email
from litestar.datastructures import FormMultiDict

from services.subscriptions import municipality_choice, public_fields
from services.subscriptions.errors import FieldProblem, InvalidInput
from services.subscriptions.json_input import is_too_deep
from services.subscriptions.queries import CustomFieldRow
from shared.languages import LANGUAGES

MAX_BODY_BYTES = 16 * 1024
MAX_EMAIL = 320
MAX_NAME = 200
MAX_SLUG = 64
MAX_LISTS = 50
MAX_SITE_KEY = 64
_TRUE = frozenset({"on", "true", "1", "yes"})
_FIELD_IN_ERROR = re.compile(r"at `\$\.(\w+)")


class SubscribeBody(msgspec.Struct, kw_only=True):
    """A sign-up as sent, before any check: JSON or form fields."""

    email: str | None = None
    lists: list[str] | str | None = None
    language: str | None = None
    name: str | None = None
    # One of municipality_choice's ids; optional, offered by forms whose site asks for it.
    municipality: str | None = None
    consent: bool | int | str | None = None
    site: str | None = None
    # The honeypot: hidden from people, so any value means a bot filled in the form.
    website: Any = None
    # A solved proof-of-work challenge (base64 JSON), for sites that require one.
    altcha: str | None = None
    # Values of public custom fields by key (form fields ``custom.<key>``).
    custom: Any = None
    # The version of the consent text the form showed (consent.CONSENT_TEXTS).
    consent_version: str | None = None
    # Which front end sent a JSON sign-up, for the consent record: widget.js says "widget";
    # anything else is a call to the API.
    via: Literal["widget", "api"] | None = None
    # Youth lists only: the year of birth and, under the age of digital consent, the address
    # of the parent or guardian who confirms.
    birth_year: int | str | None = None
    guardian_email: str | None = None


class SignupRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A checked sign-up: normalised address, list slugs, language, optional name and site."""

    email: str
    list_slugs: tuple[str, ...]
    language: str
    name: str | None = None
    municipality: str | None = None
    site_key: str | None = None
    custom: dict[str, Any] | None = None
    consent_version: str | None = None
    birth_year: int | None = None
    guardian_email: str | None = None


class SubscribeAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to every accepted sign-up, whatever state the address was in."""

    status: str
    message: str


class ErrorsResponse(msgspec.Struct, frozen=True, kw_only=True):
    """Field-level reasons a request was refused."""

    errors: dict[str, str]


def decode_json_body(raw: bytes) -> SubscribeBody:
    """Decode a JSON sign-up; raise InvalidInput naming the field (or ``body``) at fault."""
    if is_too_deep(raw):
        raise InvalidInput({"body": FieldProblem("too_deep")})
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise InvalidInput({"body": FieldProblem("invalid_json")}) from None
    if not isinstance(value, dict):
        raise InvalidInput({"body": FieldProblem("not_object")})
    try:
        return msgspec.convert(value, SubscribeBody)
    except msgspec.ValidationError as exc:
        match = _FIELD_IN_ERROR.search(str(exc))
        field = match.group(1) if match else "body"
        raise InvalidInput({field: FieldProblem("wrong_type")}, values=value) from None


def form_to_body(form: FormMultiDict) -> SubscribeBody:
    """Collect form fields; ``lists`` may repeat or hold comma-separated slugs."""

    def first(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    slugs = [item for item in form.getall("lists", []) if isinstance(item, str)]
    prefix = public_fields.PREFIX
    custom = {
        name[len(prefix) :]: first(name)
        for name in list(form.keys())[: public_fields.MAX_VALUES * 4]
        if name.startswith(prefix)
    }
    return SubscribeBody(
        email=first("email"),
        lists=slugs,
        language=first("language"),
        name=first("name"),
        municipality=first("municipality"),
        consent=first("consent"),
        site=first("site"),
        website=first("website"),
        altcha=first("altcha"),
        custom=custom or None,
        consent_version=first("consent_version"),
        birth_year=first("birth_year"),
        guardian_email=first("guardian_email"),
    )


def shown_values(body: SubscribeBody) -> dict[str, Any]:
    """What the resident typed, to fill the form in again after an error. ``municipality`` is
    there only when the form had that field, so the page shows it again."""
    values: dict[str, Any] = {
        "email": (body.email or "")[: MAX_EMAIL + 10],
        "lists": split_slugs(body.lists)[:MAX_LISTS],
        "language": body.language if body.language in LANGUAGES else None,
        "name": (body.name or "")[: MAX_NAME + 10],
        "consent": _is_true(body.consent),
        "site": (body.site or "")[:MAX_SITE_KEY],
        "custom": public_fields.shown(body.custom),
        "birth_year": str(body.birth_year or "")[:10],
        "guardian_email": (body.guardian_email or "")[: MAX_EMAIL + 10],
    }
    if body.municipality is not None:
        values["municipality"] = body.municipality[: municipality_choice.MAX_LENGTH]
    return values


def validate_signup(body: SubscribeBody, fields: Sequence[CustomFieldRow] = ()) -> SignupRequest:
    """Check every field at once, custom ones against the public ``fields``; raise InvalidInput
    with all problems found."""
    problems: dict[str, FieldProblem] = {}
    email = check_email(body.email, problems)
    slugs = split_slugs(body.lists)
    if not slugs:
        problems["lists"] = FieldProblem("required")
    elif len(slugs) > MAX_LISTS:
        problems["lists"] = FieldProblem("too_many", str(MAX_LISTS))
    elif bad := next((s for s in slugs if len(s) > MAX_SLUG or not is_clean(s)), None):
        problems["lists"] = FieldProblem("unknown", bad[:MAX_SLUG])
    if body.language not in LANGUAGES:
        problems["language"] = FieldProblem("required" if not body.language else "invalid")
    name = (body.name or "").strip() or None
    if name is not None and len(name) > MAX_NAME:
        problems["name"] = FieldProblem("too_long", str(MAX_NAME))
    elif name is not None and not is_clean(name):
        problems["name"] = FieldProblem("invalid")
    municipality = check_municipality(body.municipality, problems)
    if not _is_true(body.consent):
        problems["consent"] = FieldProblem("required")
    site = (body.site or "").strip() or None
    if site is not None and (len(site) > MAX_SITE_KEY or not is_clean(site)):
        problems["site"] = FieldProblem("invalid")
    custom = public_fields.check(fields, body.custom, problems)
    birth_year = check_birth_year(body.birth_year, problems)
    guardian_email = check_guardian_email(body.guardian_email, problems)
    if problems or email is None:
        raise InvalidInput(problems, values=shown_values(body))
    return SignupRequest(
        email=email,
        list_slugs=tuple(slugs),
        language=str(body.language),
        name=name,
        municipality=municipality,
        site_key=site,
        custom=custom,
        consent_version=(body.consent_version or "")[:MAX_SLUG] or None,
        birth_year=birth_year,
        guardian_email=guardian_email,
    )


def check_municipality(raw: str | None, problems: dict[str, FieldProblem]) -> str | None:
    """A known municipality id (or place elsewhere), None when not given, else a problem."""
    municipality = (raw or "").strip() or None
    if municipality is not None and not municipality_choice.is_known(municipality):
        problems["municipality"] = FieldProblem("unknown")
    return municipality


def check_guardian_email(raw: str | None, problems: dict[str, FieldProblem]) -> str | None:
    """A guardian's address, None when not given, or its problem under ``guardian_email``."""
    if not (raw or "").strip():
        return None
    guardian_problems: dict[str, FieldProblem] = {}
    guardian_email = check_email(raw, guardian_problems)
    if "email" in guardian_problems:
        problems["guardian_email"] = guardian_problems["email"]
    return guardian_email


def check_birth_year(raw: int | str | None, problems: dict[str, FieldProblem]) -> int | None:
    """A year of birth as a number, None when not given, or its problem under ``birth_year``.

    Whether a year is plausible (not in the future, not too long ago) depends on today;
    ``youth.assess`` checks that with the chosen lists.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        problems["birth_year"] = FieldProblem("invalid")
        return None
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        problems["birth_year"] = FieldProblem("invalid")
        return None
    return int(text)


def check_email(raw: str | None, problems: dict[str, FieldProblem]) -> str | None:
    """The address normalised for storing, or None with its problem under ``email``."""
    value = (raw or "").strip()
    if not value:
        problems["email"] = FieldProblem("required")
        return None
    if len(value) > MAX_EMAIL:
        problems["email"] = FieldProblem("too_long", str(MAX_EMAIL))
        return None
    if not is_clean(value):
        problems["email"] = FieldProblem("invalid")
        return None
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        problems["email"] = FieldProblem("invalid")
        return None
    if checked.smtputf8:
        # A non-ASCII local part needs SMTPUTF8 on every hop, which the mailer does not
        # require of its relay; such a resident would never get the confirmation.
        problems["email"] = FieldProblem("unsupported")
        return None
    # email-validator keeps the local part as typed (it may be case-sensitive) and gives the
    # domain in normalised Unicode form; the domain is lower-cased so one address is one row.
    return f"{checked.local_part}@{checked.domain.lower()}"


def split_slugs(raw: list[str] | str | None) -> list[str]:
    """List slugs from repeated fields and/or comma-separated values, without duplicates."""
    items = [raw] if isinstance(raw, str) else list(raw or [])
    slugs: list[str] = []
    for item in items:
        for part in item.split(","):
            slug = part.strip()
            if slug and slug not in slugs:
                slugs.append(slug)
    return slugs


def _is_true(value: bool | int | str | None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value == 1
    return isinstance(value, str) and value.strip().lower() in _TRUE


def is_clean(text: str) -> bool:
    """No control characters and no lone surrogates: neither can be stored or mailed safely."""
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
