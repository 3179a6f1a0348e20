"""The preference page's model: what it shows, what its form sends, and the checks on that.

preferences.py loads and stores; this module holds no SQL and changes nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from litestar.datastructures import FormMultiDict

from services.subscriptions import municipality_choice, public_fields
from services.subscriptions.errors import FieldProblem
from services.subscriptions.i18n import N_, list_description, list_name
from services.subscriptions.pages import Renderer
from services.subscriptions.queries import CustomFieldRow, PreferenceListRow, ProfileRow
from shared.custom_fields import InvalidCustomValue
from shared.languages import LANGUAGES
from shared.statuses import SubscriptionStatus

MAX_NAME: Final = 200
MAX_FORM_VALUES: Final = 200  # list checkboxes and custom fields together
CUSTOM_PREFIX: Final = "field_"

MESSAGES: Final[Mapping[tuple[str, str], str]] = {
    ("name", "too_long"): N_("The name is too long (at most %(detail)s characters)."),
    ("name", "invalid"): N_("The name contains characters we cannot store."),
    ("language", "invalid"): N_("Choose Danish, Swedish or English."),
    ("municipality", "unknown"): N_("Choose a municipality from the list."),
    ("lists", "unknown"): N_("One of the newsletters you chose is not available."),
    ("custom", "required"): N_("This field is required."),
    ("custom", "must_be_ticked"): N_("Tick this box to continue."),
    ("custom", "invalid"): N_("This value is not valid."),
}


@dataclass(frozen=True)
class ListOption:
    """A list as the preference page shows it."""

    slug: str
    name: str
    description: str
    checked: bool
    pending: bool


@dataclass(frozen=True)
class Preferences:
    """A subscriber's stored choices and what the page may offer them."""

    token: str
    profile: ProfileRow
    lists: tuple[PreferenceListRow, ...]
    custom_fields: tuple[CustomFieldRow, ...]

    def list_options(self, lang: str, ticked: Sequence[str] | None = None) -> list[ListOption]:
        """The lists in ``lang``; ``ticked`` (after a refused save) overrides stored choices."""
        options = []
        for row in self.lists:
            on = row.status in (SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED)
            options.append(
                ListOption(
                    slug=row.slug,
                    name=list_name(row, lang),
                    description=list_description(row, lang),
                    checked=row.slug in ticked if ticked is not None else on,
                    pending=row.status == SubscriptionStatus.PENDING,
                )
            )
        return options


@dataclass(frozen=True)
class PreferencesForm:
    """What the preference form sent, before any check."""

    lists: tuple[str, ...]
    language: str | None
    name: str | None
    municipality: str | None
    custom: Mapping[str, str | None]


def read_form(form: FormMultiDict) -> PreferencesForm:
    """Collect the preference form's fields (custom fields are ``field_<key>``)."""

    def first(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    slugs = [v for v in form.getall("lists", []) if isinstance(v, str)][:MAX_FORM_VALUES]
    custom = {
        name[len(CUSTOM_PREFIX) :]: first(name)
        for name in list(form.keys())[:MAX_FORM_VALUES]
        if name.startswith(CUSTOM_PREFIX)
    }
    return PreferencesForm(
        lists=tuple(dict.fromkeys(slugs)),
        language=first("language"),
        name=first("name"),
        municipality=first("municipality"),
        custom=custom,
    )


# --- checking the form ----------------------------------------------------------------------


@dataclass(frozen=True)
class FormValues:
    """A checked form: the values to store and the lists wanted."""

    name: str | None
    language: str
    municipality: str | None
    custom: dict[str, Any] | None
    wanted: frozenset[int]


def check(prefs: Preferences, form: PreferencesForm) -> tuple[FormValues, dict[str, FieldProblem]]:
    """The values to store, or the problems per field (then nothing may be stored)."""
    problems: dict[str, FieldProblem] = {}
    name = (form.name or "").strip() or None
    if name is not None and len(name) > MAX_NAME:
        problems["name"] = FieldProblem("too_long", str(MAX_NAME))
    elif name is not None and not _is_clean_line(name):
        problems["name"] = FieldProblem("invalid")
    language = form.language if form.language in LANGUAGES else None
    if language is None:
        problems["language"] = FieldProblem("invalid")
    municipality = (form.municipality or "").strip() or None
    if municipality is not None and not municipality_choice.is_known(municipality):
        problems["municipality"] = FieldProblem("unknown")
    by_slug = {row.slug: row.id for row in prefs.lists}
    if any(slug not in by_slug for slug in form.lists):
        problems["lists"] = FieldProblem("unknown")
    custom = _check_custom(prefs, form, problems)
    values = FormValues(
        name=name,
        language=language or prefs.profile.language,
        municipality=municipality,
        custom=custom,
        wanted=frozenset(by_slug[slug] for slug in form.lists if slug in by_slug),
    )
    return values, problems


def _check_custom(
    prefs: Preferences, form: PreferencesForm, problems: dict[str, FieldProblem]
) -> dict[str, Any] | None:
    # Values of fields not shown here (staff-only fields) are kept as they are.
    stored = dict(prefs.profile.custom_values or {})
    for definition in prefs.custom_fields:
        key = definition.key
        try:
            value = public_fields.validate(definition, form.custom.get(key))
        except InvalidCustomValue as exc:
            code = {"is required": "required", "must be ticked": "must_be_ticked"}
            problems[CUSTOM_PREFIX + key] = FieldProblem(code.get(exc.reason, "invalid"))
            continue
        if value is None:
            stored.pop(key, None)
        else:
            stored[key] = value
    return stored or None


def _is_clean_line(text: str) -> bool:
    return not any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


# --- for the page -----------------------------------------------------------------------------


def custom_field_options(
    prefs: Preferences, lang: str, raw: Mapping[str, str | None] | None = None
) -> list[dict[str, Any]]:
    """Public custom fields with their labels in ``lang`` and current (or re-shown) values."""
    stored = prefs.profile.custom_values or {}
    options = []
    for definition in prefs.custom_fields:
        key = definition.key
        value: Any = raw.get(key) if raw is not None else stored.get(key)
        options.append(
            {
                "key": key,
                "id": "field-" + key,
                "name": CUSTOM_PREFIX + key,
                "label": public_fields.label(definition, lang),
                "type": definition.type,
                "choices": list(definition.choices),
                "required": definition.required,
                "max_length": definition.max_length,
                "value": "" if value is None else value,
            }
        )
    return options


def problem_messages(
    renderer: Renderer, lang: str, problems: Mapping[str, FieldProblem]
) -> dict[str, str]:
    """Readable reasons per field in ``lang``, in the order the form shows the fields."""
    order = ("name", "language", "municipality", "lists")

    def position(item: tuple[str, FieldProblem]) -> int:
        return order.index(item[0]) if item[0] in order else len(order)

    messages = {}
    for name, problem in sorted(problems.items(), key=position):
        kind = "custom" if name.startswith(CUSTOM_PREFIX) else name
        message = MESSAGES.get((kind, problem.code), MESSAGES[("custom", "invalid")])
        text = renderer.gettext(lang, message)
        messages[name] = text % {"detail": problem.detail} if "%(detail)s" in text else text
    return messages
