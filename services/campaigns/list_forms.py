"""The staff app's list forms: what a posted form means as an API request body.

The pages post plain HTML forms; these turn them into the same ListCreate and ListPatch the
JSON API decodes, so both go through one domain function and one set of checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from services.campaigns.errors import N_
from services.campaigns.schemas import (
    Descriptions,
    ListCreate,
    ListPatch,
    Names,
    TextsPatch,
    WelcomePatch,
    WelcomeText,
)
from shared.languages import LANGUAGES

# Form values are capped before they reach the checks, which then name the field.
_CAP: Final = 25_000
# The checkbox name prefix of a custom field a youth list allows to minors.
YOUTH_FIELD: Final = "youth_field."
_MAX_FIELDS: Final = 200


def _value(form: Mapping[str, str], key: str) -> str:
    return form.get(key, "")[:_CAP]


def create_request(form: Mapping[str, str]) -> ListCreate:
    """``POST /app/lists`` as a ListCreate."""
    return ListCreate(
        slug=_value(form, "slug").strip(),
        names=Names(**{lang: _value(form, f"name_{lang}") for lang in LANGUAGES}),
        descriptions=Descriptions(
            **{lang: _value(form, f"description_{lang}") for lang in LANGUAGES}
        ),
        is_public=form.get("is_public") == "1",
        double_optin=form.get("double_optin") == "1",
        youth=form.get("youth") == "1",
    )


def update_request(form: Mapping[str, str]) -> ListPatch:
    """``POST /app/lists/{slug}`` as a ListPatch: names, descriptions, welcome texts and the
    youth settings (a ticked ``youth_field.<key>`` allows that custom field to minors).

    A language whose welcome subject and body are both empty has no welcome mail.
    """
    welcome: dict[str, WelcomeText | None] = {}
    for lang in LANGUAGES:
        subject = _value(form, f"welcome_subject_{lang}")
        body = _value(form, f"welcome_body_{lang}")
        welcome[lang] = WelcomeText(subject=subject, body=body) if subject or body else None
    return ListPatch(
        names=TextsPatch(**{lang: _value(form, f"name_{lang}") for lang in LANGUAGES}),
        descriptions=TextsPatch(
            **{lang: _value(form, f"description_{lang}") for lang in LANGUAGES}
        ),
        welcome=WelcomePatch(**welcome),
        youth=form.get("youth") == "1",
        youth_fields=[
            key[len(YOUTH_FIELD) :]
            for key, value in form.items()
            if key.startswith(YOUTH_FIELD) and value == "1"
        ][:_MAX_FIELDS],
    )


# What the error summary calls each field (msgids the form's own labels use too).
_LABELS: Final = {
    "slug": N_("Short name (slug)"),
    "name": N_("Name"),
    "description": N_("Description"),
    "welcome_subject": N_("Welcome subject"),
    "welcome_body": N_("Welcome text"),
    "youth_fields": N_("Custom fields children may give"),
}
_LANGUAGE_NAMES: Final = {"da": N_("Danish"), "sv": N_("Swedish"), "en": N_("English")}


def field_label(error_key: str) -> tuple[str, str | None]:
    """The label of the field an API error key names, and its language's name if any."""
    field = field_id(error_key)
    base, _, lang = field.rpartition("_")
    if lang in _LANGUAGE_NAMES and base in _LABELS:
        return _LABELS[base], _LANGUAGE_NAMES[lang]
    return _LABELS.get(field, field), None


def field_id(error_key: str) -> str:
    """The form field an API error key names: ``names.da`` is ``name_da``."""
    parts = error_key.split(".")
    if parts[0] == "names" and len(parts) == 2:
        return f"name_{parts[1]}"
    if parts[0] == "descriptions" and len(parts) == 2:
        return f"description_{parts[1]}"
    if parts[0] == "welcome" and len(parts) == 3:
        return f"welcome_{parts[2]}_{parts[1]}"
    return parts[0]
