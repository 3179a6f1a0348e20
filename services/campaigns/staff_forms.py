"""The staff app's forms for member sites and custom fields, read into the API's request
bodies, and the API's field errors laid out for the form that caused them.

Forms arrive as multi-value mappings (checkboxes repeat a name); everything here is plain
data, so the pages and the JSON API share one domain function each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from msgspec import UNSET

from services.campaigns.errors import N_
from services.campaigns.schemas import (
    FieldCreate,
    FieldPatch,
    Names,
    SiteCreate,
    SitePatch,
    TextsPatch,
)

# Longest text read from any one form field; the domain checks the real limits.
TEXT_MAX: Final = 20_000
LINES_MAX: Final = 200
_INDEXED: Final = re.compile(r"(\w+)\[(\d+)\]")


# A submitted form: every name with all its values (checkboxes repeat a name).
FormData = Mapping[str, Sequence[object]]


@dataclass(frozen=True, slots=True)
class Lines:
    """The non-blank lines of a textarea and the line number (from 1) each came from."""

    values: list[str]
    numbers: list[int]


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one form field; ``line`` names the textarea line when it has one."""

    field: str
    message: str
    line: int | None = None


def text(form: FormData, name: str) -> str:
    """A single text value, cut at ``TEXT_MAX``; a value that is not text counts as empty."""
    values = form.get(name) or [""]
    return values[0][:TEXT_MAX] if isinstance(values[0], str) else ""


def lines(raw: str) -> Lines:
    """The non-blank lines of ``raw``, stripped, at most ``LINES_MAX`` of them."""
    values: list[str] = []
    numbers: list[int] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            values.append(line.strip())
            numbers.append(number)
    return Lines(values[:LINES_MAX], numbers[:LINES_MAX])


def checked(form: FormData, name: str) -> bool:
    """Whether a checkbox was ticked."""
    return text(form, name) in {"on", "1", "true"}


def chosen(form: FormData, name: str) -> list[str]:
    """Every value of a repeated field (ticked checkboxes), in order, at most ``LINES_MAX``."""
    return [value[:200] for value in (form.get(name) or [])[:LINES_MAX] if isinstance(value, str)]


def form_data(form: Any) -> dict[str, list[object]]:
    """A framework's multi-value form (anything with ``keys`` and ``getall``) as plain data."""
    return {str(key): list(form.getall(key)) for key in dict.fromkeys(form.keys())}


def site_create(form: FormData) -> tuple[SiteCreate, Lines]:
    """A new member site from the site form, and the origin lines it was read from."""
    origins = lines(text(form, "allowed_origins"))
    data = SiteCreate(
        key=text(form, "key").strip(),
        name=text(form, "name"),
        country=text(form, "country"),
        municipality=text(form, "municipality").strip() or None,
        allowed_origins=origins.values,
        default_lists=chosen(form, "default_lists"),
        default_language=text(form, "default_language") or None,
        thank_you_url=text(form, "thank_you_url").strip() or None,
        require_proof_of_work=checked(form, "require_proof_of_work"),
        asks_municipality=checked(form, "asks_municipality"),
    )
    return data, origins


def site_patch(form: FormData) -> tuple[SitePatch, Lines]:
    """Every editable field of a site from the site form (the key never changes)."""
    created, origins = site_create(form)
    patch = SitePatch(
        name=created.name,
        country=created.country,
        municipality=created.municipality,
        allowed_origins=created.allowed_origins,
        default_lists=created.default_lists,
        default_language=created.default_language or UNSET,
        thank_you_url=created.thank_you_url,
        require_proof_of_work=created.require_proof_of_work,
        asks_municipality=created.asks_municipality,
    )
    return patch, origins


def _max_length(raw: str) -> int | None:
    value = raw.strip()
    if not value:
        return None
    # Not a whole number: a value the definition check refuses with its own message.
    return int(value) if value.isdigit() and len(value) <= 9 else -1


def field_create(form: FormData) -> tuple[FieldCreate, Lines]:
    """A new custom field from the field form, and the choice lines it was read from."""
    choices = lines(text(form, "choices"))
    data = FieldCreate(
        key=text(form, "key").strip(),
        labels=Names(
            da=text(form, "label_da"), sv=text(form, "label_sv"), en=text(form, "label_en")
        ),
        type=text(form, "type"),
        choices=choices.values,
        required=checked(form, "required"),
        public=checked(form, "public"),
        max_length=_max_length(text(form, "max_length")),
    )
    return data, choices


def field_patch(form: FormData) -> tuple[FieldPatch, Lines]:
    """Every editable part of a custom field from the field form (key and type stay)."""
    created, choices = field_create(form)
    patch = FieldPatch(
        labels=TextsPatch(da=created.labels.da, sv=created.labels.sv, en=created.labels.en),
        choices=created.choices,
        required=created.required,
        public=created.public,
        max_length=created.max_length,
    )
    return patch, choices


def field_errors(errors: Mapping[str, str], numbered: Mapping[str, Lines]) -> list[FieldError]:
    """The API's errors (``allowed_origins[2]``, ``labels.da``) as form fields and lines.

    ``numbered`` names the textareas whose list items map back to line numbers.
    """
    found: list[FieldError] = []
    for key, message in errors.items():
        match = _INDEXED.fullmatch(key)
        if match and match[1] in numbered:
            numbers: Sequence[int] = numbered[match[1]].numbers
            index = int(match[2])
            line = numbers[index] if index < len(numbers) else None
            found.append(FieldError(match[1], message, line))
        else:
            found.append(FieldError(key.replace("labels.", "label_"), message))
    return sorted(found, key=lambda error: (error.field, error.line or 0))


# The domain's reasons as the pages show them, marked here for the staff app's catalogs (the
# domain answers the API in English; shared modules cannot mark their texts themselves).
REASONS: Final = (
    N_("the site is not valid"),
    N_("the field is not valid"),
    N_("invalid time range"),
    N_("must be after since"),
    N_("is already taken"),
    N_("must not be empty"),
    N_("must be at most 200 characters"),
    N_("must be one line without control characters"),
    N_("must be 2 to 64 characters of a-z, 0-9 and -"),
    N_("must be DK or SE"),
    N_("must be da, sv or en"),
    N_("must be at most 50 origins"),
    N_("must be at most 50 lists"),
    N_("is not a known municipality (an id like dk-koebenhavn, or a name)"),
    N_("wildcards are not allowed; list each origin"),
    N_("must be an origin only (scheme://host[:port]), without a path"),
    N_("must start with https:// or http://"),
    N_("must not contain spaces or control characters"),
    N_("is not a valid address"),
    N_("must not contain a user name or password"),
    N_("must name a host"),
    N_("does not have a valid host name"),
    N_("must be at most 2000 characters"),
    N_("must start with a-z and continue with up to 39 of a-z, 0-9 and _"),
    N_("must be one of text, number, boolean, date, choice"),
    N_("only a choice field has choices"),
    N_("a choice field needs at least one choice"),
    N_("must be at most 100 choices"),
    N_("must not repeat a choice"),
    N_("each choice must be non-empty text without surrounding spaces"),
    N_("each choice must be one line of at most 100 characters"),
    N_("only a text field has a maximum length"),
    N_("must be a whole number"),
    N_("must be between 1 and 2000"),
)
