"""Custom subscriber fields: definitions staff add and residents fill in when they sign up.

The definition format, and the check of residents' values, live in shared.custom_fields so the
subscriptions service applies exactly the rules checked here.
"""

from __future__ import annotations

from typing import Any, Final

from msgspec import UNSET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.errors import Conflict, InvalidInput, NotFound
from services.campaigns.schemas import FieldCreate, FieldOut, FieldPatch, FieldsOut, Names
from shared.custom_fields import LABEL_LANGUAGES, definition_problems

_DEFINITION: Final = (
    "key",
    *(f"label_{lang}" for lang in LABEL_LANGUAGES),
    "type",
    "choices",
    "required",
    "public",
    "max_length",
)


async def get_fields(session: AsyncSession) -> FieldsOut:
    """Every custom field, oldest first (the order forms show them in)."""
    return FieldsOut(items=[_field_out(row) for row in await queries.all_fields(session)])


async def get_field(session: AsyncSession, key: str) -> FieldOut:
    """One custom field definition."""
    return _field_out(await _field_row(session, key))


async def create_field(session: AsyncSession, data: FieldCreate) -> FieldOut:
    """Define a new custom field; its key must be new."""
    definition = {
        "key": data.key,
        **{f"label_{lang}": getattr(data.labels, lang).strip() for lang in LABEL_LANGUAGES},
        "type": data.type,
        "choices": [choice.strip() for choice in data.choices],
        "required": data.required,
        "public": data.public,
        "max_length": data.max_length,
    }
    _check(definition)
    if await queries.field_by_key(session, data.key) is not None:
        raise _taken(data.key)
    try:
        await queries.insert_field(session, definition)
        await session.commit()
    except IntegrityError as exc:
        # Another request defined the same key between our check and the insert.
        await session.rollback()
        raise _taken(data.key) from exc
    return await get_field(session, data.key)


async def update_field(session: AsyncSession, key: str, patch: FieldPatch) -> FieldOut:
    """Change labels, choices, flags or the length limit; the key and type stay."""
    row = await _field_row(session, key)
    changes: dict[str, Any] = {}
    if patch.labels is not UNSET:
        for lang in LABEL_LANGUAGES:
            label = getattr(patch.labels, lang)
            if label is not UNSET:
                changes[f"label_{lang}"] = label.strip()
    if patch.choices is not UNSET:
        changes["choices"] = [choice.strip() for choice in patch.choices]
    for flag in ("required", "public", "max_length"):
        if getattr(patch, flag) is not UNSET:
            changes[flag] = getattr(patch, flag)
    _check({**_definition(row), **changes})
    if changes and not await queries.update_field(session, key, changes):
        raise NotFound("field", key)
    await session.commit()
    return await get_field(session, key)


async def delete_field(session: AsyncSession, key: str) -> None:
    """Remove a custom field definition."""
    await _field_row(session, key)
    await queries.delete_field(session, key)
    await session.commit()


def _check(definition: dict[str, Any]) -> None:
    problems = definition_problems(definition)
    if problems:
        # The API nests labels: label_da is labels.da there.
        errors = {column.replace("label_", "labels."): why for column, why in problems.items()}
        raise InvalidInput("the field is not valid", errors)


async def _field_row(session: AsyncSession, key: str) -> queries.FieldRow:
    row = await queries.field_by_key(session, key) if len(key) <= 40 else None
    if row is None:
        raise NotFound("field", key[:40])
    return row


def _definition(row: queries.FieldRow) -> dict[str, Any]:
    # In the form shared.custom_fields checks: choices as a JSON-style list.
    return {column: getattr(row, column) for column in _DEFINITION} | {"choices": list(row.choices)}


def _taken(key: str) -> Conflict:
    return Conflict(f"a field with key {key!r} exists", {"key": "is already taken"})


def _field_out(row: queries.FieldRow) -> FieldOut:
    return FieldOut(
        key=row.key,
        labels=Names(da=row.label_da, sv=row.label_sv, en=row.label_en),
        type=row.type,
        choices=list(row.choices),
        required=row.required,
        public=row.public,
        max_length=row.max_length,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
