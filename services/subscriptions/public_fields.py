"""Staff-defined custom fields on the public sign-up forms: only those staff mark ``public``.

Definitions live in the campaigns-owned ``custom_fields`` table (format: shared/custom_fields.py).
A form sends a field's value as ``custom.<key>`` (form field) or inside ``"custom": {...}``
(JSON); problems are reported under ``custom.<key>`` so every form can put the reason next to
its field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, Final, TypeAlias

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import queries
from services.subscriptions.errors import FieldProblem
from services.subscriptions.queries import CustomFieldRow
from services.subscriptions.read_every import ReadEvery
from shared.custom_fields import CustomValue, InvalidCustomValue, validate_custom_value
from shared.languages import localised

PREFIX: Final = "custom."
MAX_VALUES: Final = 50  # more keys than any form has: refused before looking at them
MAX_SHOWN: Final = 2000  # characters of a refused value put back into the form
_CODES: Final = {"is required": "required", "must be ticked": "must_be_ticked"}


class FormField(msgspec.Struct, frozen=True, kw_only=True):
    """A public custom field as a form shows it, labelled in the form's language."""

    key: str
    name: str  # the form field (and element id): custom.<key>
    label: str
    type: str
    required: bool
    choices: list[str]
    max_length: int | None


async def load(session: AsyncSession) -> tuple[CustomFieldRow, ...]:
    """The definitions of the fields staff allow on public forms, in their order."""
    async with session.begin():
        return tuple(await queries.get_public_custom_fields(session))


# The public field definitions as sign-ups are checked against them, in their order, read at
# most once per ttl (read_every.py): ``ReadEvery(sessionmaker, load, ttl=…)``.
PublicFieldDirectory: TypeAlias = ReadEvery[tuple[CustomFieldRow, ...]]


def label(definition: CustomFieldRow, language: str) -> str:
    """A field's label in ``language``, else its Danish one, else its key."""
    return localised(definition, "label", language, fallback=definition.key)


def validate(definition: CustomFieldRow, raw: object) -> CustomValue | None:
    """``raw`` as stored for this field; raise InvalidCustomValue when it does not fit."""
    return validate_custom_value(asdict(definition), raw)


def form_fields(definitions: Sequence[CustomFieldRow], language: str) -> list[FormField]:
    """The public fields labelled in ``language`` (the key when a label is missing)."""
    return [
        FormField(
            key=definition.key,
            name=PREFIX + definition.key,
            label=label(definition, language),
            type=definition.type,
            required=definition.required,
            choices=list(definition.choices),
            max_length=definition.max_length,
        )
        for definition in definitions
    ]


def check(
    definitions: Sequence[CustomFieldRow],
    raw: object,
    problems: dict[str, FieldProblem],
) -> dict[str, Any] | None:
    """The values to store (None when there are none); problems go into ``problems``.

    Keys that are not public fields are refused (422), so a form cannot fill in a field staff
    keep to themselves; every public field is checked, so required ones must be present.
    """
    if raw is not None and not isinstance(raw, Mapping):
        problems["custom"] = FieldProblem("wrong_type")
        return None
    sent: Mapping[Any, Any] = raw or {}
    if len(sent) > MAX_VALUES:
        problems["custom"] = FieldProblem("too_many", str(MAX_VALUES))
        return None
    known = {definition.key for definition in definitions}
    for key in sent:
        if str(key) not in known:
            problems[PREFIX + str(key)[:64]] = FieldProblem("unknown_field")
    values: dict[str, Any] = {}
    for definition in definitions:
        key = definition.key
        try:
            value = validate(definition, sent.get(key))
        except InvalidCustomValue as exc:
            problems[PREFIX + key] = FieldProblem(_CODES.get(exc.reason, "invalid"))
            continue
        # An unticked optional box says nothing: store only what the resident gave.
        if value is not None and not (value is False and not definition.required):
            values[key] = value
    return values or None


def shown(raw: object) -> dict[str, str]:
    """What was typed into the custom fields, to fill the form in again after an error."""
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(key): value[:MAX_SHOWN] if isinstance(value, str) else _text(value)
        for key, value in list(raw.items())[:MAX_VALUES]
    }


def _text(value: object) -> str:
    if value is True:
        return "true"
    if value is None or value is False:
        return ""
    return str(value)[:MAX_SHOWN]
