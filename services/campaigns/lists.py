"""Mailing lists: what residents subscribe to and campaigns are addressed to."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from msgspec import UNSET, UnsetType
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.errors import N_, Conflict, InvalidInput, NotFound
from services.campaigns.render_pool import RenderPool
from services.campaigns.schemas import (
    Descriptions,
    ListCreate,
    ListOut,
    ListPatch,
    ListsOut,
    Names,
    TextsPatch,
    Welcome,
    WelcomePatch,
    WelcomeText,
)
from shared.campaign_templates import CampaignTemplateError, compile_template, render_template
from shared.custom_fields import is_clean_text
from shared.languages import LANGUAGES

SLUG = re.compile(r"[a-z0-9-]{1,64}")
_NAME_MAX = 200
_DESCRIPTION_MAX = 5000
_WELCOME_SUBJECT_MAX = 998
_WELCOME_BODY_MAX = 20_000
# What a welcome template is tried with before it is stored (the same names as when sent).
_WELCOME_SAMPLE = {"subscriber": {"name": "Maja"}, "list": {"name": "Kultur"}}


async def get_lists(session: AsyncSession) -> ListsOut:
    """Every mailing list, by slug."""
    return ListsOut(items=[_list_out(row) for row in await queries.all_lists(session)])


async def create_list(session: AsyncSession, data: ListCreate) -> ListOut:
    """Create a mailing list; its slug must be new."""
    _check(data)
    await _check_youth_fields(session, data.youth_fields)
    if await queries.list_by_slug(session, data.slug) is not None:
        raise Conflict(f"a list with slug {data.slug!r} exists", {"slug": N_("is already taken")})
    values = {
        "slug": data.slug,
        **{f"name_{lang}": getattr(data.names, lang).strip() for lang in LANGUAGES},
        **{f"description_{lang}": getattr(data.descriptions, lang) for lang in LANGUAGES},
        "is_public": data.is_public,
        "double_optin": data.double_optin,
        "youth": data.youth,
        "youth_fields": sorted(set(data.youth_fields)) or None,
    }
    try:
        await queries.insert_list(session, values)
        await session.commit()
    except IntegrityError as exc:
        # Another request created the same slug between our check and the insert.
        await session.rollback()
        raise Conflict(
            f"a list with slug {data.slug!r} exists", {"slug": N_("is already taken")}
        ) from exc
    row = await queries.list_by_slug(session, data.slug)
    assert row is not None  # just committed
    return _list_out(row)


async def get_list(session: AsyncSession, slug: str) -> ListOut:
    """One mailing list."""
    return _list_out(await _list_row(session, slug))


async def update_list(
    session: AsyncSession, renderer: RenderPool, slug: str, patch: ListPatch
) -> ListOut:
    """Change names, descriptions or flags of a list; the slug stays (campaigns refer to it)."""
    row = await _list_row(session, slug)
    values: dict[str, Any] = {
        **_text_changes("name", patch.names),
        **_text_changes("description", patch.descriptions),
    }
    for flag in ("is_public", "double_optin", "youth"):
        if getattr(patch, flag) is not UNSET:
            values[flag] = getattr(patch, flag)
    if not isinstance(patch.youth_fields, UnsetType):
        await _check_youth_fields(session, patch.youth_fields)
        values["youth_fields"] = sorted(set(patch.youth_fields)) or None
    values.update(_welcome_changes(patch.welcome))
    merged = {**asdict(row), **values}
    errors = _text_errors(
        {lang: merged[f"name_{lang}"] for lang in LANGUAGES},
        {lang: merged[f"description_{lang}"] for lang in LANGUAGES},
    )
    if patch.welcome is not UNSET:
        # Tried in a worker process: a costly welcome template cannot stall this service.
        errors.update(await renderer.run("welcome", welcome_errors, patch.welcome))
    if errors:
        raise InvalidInput(N_("the list is not valid"), errors)
    if values and not await queries.update_list(session, slug, values):
        raise NotFound("list", slug)
    await session.commit()
    return await get_list(session, slug)


async def _list_row(session: AsyncSession, slug: str) -> queries.ListRow:
    # Only a well-formed slug can name a list (and PostgreSQL refuses some characters, NUL).
    row = await queries.list_by_slug(session, slug) if SLUG.fullmatch(slug) else None
    if row is None:
        raise NotFound("list", slug[:64])
    return row


async def _check_youth_fields(session: AsyncSession, keys: list[str]) -> None:
    """A youth list may only allow custom fields that exist."""
    known = {row.key for row in await queries.all_fields(session)}
    unknown = sorted(key for key in set(keys) if key not in known)
    if unknown:
        raise InvalidInput(
            N_("the list is not valid"),
            {"youth_fields": f"unknown custom field: {unknown[0][:40]}"},
        )


def _text_changes(column: str, texts: TextsPatch | UnsetType) -> dict[str, str]:
    if texts is UNSET:
        return {}
    changes = {f"{column}_{lang}": getattr(texts, lang) for lang in LANGUAGES}
    # Names are shown in headings and mail subjects: no stray spaces around them.
    return {
        key: value.strip() if column == "name" else value
        for key, value in changes.items()
        if value is not UNSET
    }


def _welcome_changes(welcome: WelcomePatch | UnsetType) -> dict[str, str | None]:
    if welcome is UNSET:
        return {}
    changes: dict[str, str | None] = {}
    for lang in LANGUAGES:
        text = getattr(welcome, lang)
        if text is UNSET:
            continue
        changes[f"welcome_subject_{lang}"] = text.subject.strip() if text else None
        changes[f"welcome_body_{lang}"] = text.body if text else None
    return changes


def welcome_errors(welcome: WelcomePatch | UnsetType) -> dict[str, str]:
    """Welcome texts must be non-empty, fit, and render in the sandbox with sample values."""
    errors: dict[str, str] = {}
    if welcome is UNSET:
        return errors
    for lang in LANGUAGES:
        text = getattr(welcome, lang)
        if not isinstance(text, WelcomeText):
            continue
        limits = (("subject", _WELCOME_SUBJECT_MAX), ("body", _WELCOME_BODY_MAX))
        for part, limit in limits:
            value = getattr(text, part)
            field = f"welcome.{lang}.{part}"
            if not value.strip():
                errors[field] = N_("must not be empty")
            elif len(value) > limit:
                errors[field] = f"must be at most {limit} characters"
            elif part == "subject" and not _one_line(value):
                errors[field] = N_("must be one line without control characters")
            elif not is_clean_text(value):
                errors[field] = "must not contain control characters (other than line breaks)"
            else:
                try:
                    template = compile_template(value, field=field, html=False)
                    rendered = render_template(template, dict(_WELCOME_SAMPLE), field=field)
                except CampaignTemplateError as exc:
                    errors[field] = str(exc)
                else:
                    if part == "subject" and not _one_line(rendered):
                        errors[field] = "must render to one line without control characters"
    return errors


def _welcome_out(row: queries.ListRow) -> Welcome:
    texts = {}
    for lang in LANGUAGES:
        subject = getattr(row, f"welcome_subject_{lang}")
        body = getattr(row, f"welcome_body_{lang}")
        texts[lang] = WelcomeText(subject=subject, body=body) if subject and body else None
    return Welcome(**texts)


def _check(data: ListCreate) -> None:
    errors: dict[str, str] = {}
    if not SLUG.fullmatch(data.slug):
        errors["slug"] = N_("must be 1 to 64 characters of a-z, 0-9 and -")
    errors.update(
        _text_errors(
            {lang: getattr(data.names, lang) for lang in LANGUAGES},
            {lang: getattr(data.descriptions, lang) for lang in LANGUAGES},
        )
    )
    if errors:
        raise InvalidInput(N_("the list is not valid"), errors)


def _text_errors(names: dict[str, str], descriptions: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for lang in LANGUAGES:
        name = names[lang].strip()
        if not name:
            errors[f"names.{lang}"] = N_("must not be empty")
        elif len(name) > _NAME_MAX:
            errors[f"names.{lang}"] = f"must be at most {_NAME_MAX} characters"
        elif not _one_line(name):
            errors[f"names.{lang}"] = N_("must be one line without control characters")
        if len(descriptions[lang]) > _DESCRIPTION_MAX:
            errors[f"descriptions.{lang}"] = f"must be at most {_DESCRIPTION_MAX} characters"
        elif not is_clean_text(descriptions[lang]):
            errors[f"descriptions.{lang}"] = (
                "must not contain control characters (other than line breaks)"
            )
    return errors


def _one_line(text: str) -> bool:
    # Names and subjects end up in headers and one-line UI: no CR, LF, NUL or the like.
    return is_clean_text(text) and not any(char in text for char in "\r\n\t")


def _list_out(row: queries.ListRow) -> ListOut:
    return ListOut(
        id=row.id,
        slug=row.slug,
        names=Names(da=row.name_da, sv=row.name_sv, en=row.name_en),
        descriptions=Descriptions(
            da=row.description_da, sv=row.description_sv, en=row.description_en
        ),
        is_public=row.is_public,
        double_optin=row.double_optin,
        created_at=row.created_at,
        welcome=_welcome_out(row),
        youth=row.youth,
        youth_fields=list(row.youth_fields),
    )
