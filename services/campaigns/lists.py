"""Mailing lists: what residents subscribe to and campaigns are addressed to."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.errors import Conflict, InvalidInput
from services.campaigns.schemas import Descriptions, ListCreate, ListOut, ListsOut, Names

SLUG = re.compile(r"[a-z0-9-]{1,64}")
_NAME_MAX = 200
_DESCRIPTION_MAX = 5000


async def get_lists(session: AsyncSession) -> ListsOut:
    """Every mailing list, by slug."""
    return ListsOut(items=[_list_out(row) for row in await queries.all_lists(session)])


async def create_list(session: AsyncSession, data: ListCreate) -> ListOut:
    """Create a mailing list; its slug must be new."""
    _check(data)
    if await queries.list_by_slug(session, data.slug) is not None:
        raise Conflict(f"a list with slug {data.slug!r} exists", {"slug": "is already taken"})
    values = {
        "slug": data.slug,
        **{f"name_{lang}": getattr(data.names, lang).strip() for lang in ("da", "sv", "en")},
        **{f"description_{lang}": getattr(data.descriptions, lang) for lang in ("da", "sv", "en")},
        "is_public": data.is_public,
        "double_optin": data.double_optin,
    }
    try:
        await queries.insert_list(session, values)
        await session.commit()
    except IntegrityError as exc:
        # Another request created the same slug between our check and the insert.
        await session.rollback()
        raise Conflict(
            f"a list with slug {data.slug!r} exists", {"slug": "is already taken"}
        ) from exc
    row = await queries.list_by_slug(session, data.slug)
    assert row is not None  # just committed
    return _list_out(row)


def _check(data: ListCreate) -> None:
    errors: dict[str, str] = {}
    if not SLUG.fullmatch(data.slug):
        errors["slug"] = "must be 1 to 64 characters of a-z, 0-9 and -"
    for lang in ("da", "sv", "en"):
        name = getattr(data.names, lang).strip()
        if not name:
            errors[f"names.{lang}"] = "must not be empty"
        elif len(name) > _NAME_MAX:
            errors[f"names.{lang}"] = f"must be at most {_NAME_MAX} characters"
        if len(getattr(data.descriptions, lang)) > _DESCRIPTION_MAX:
            errors[f"descriptions.{lang}"] = f"must be at most {_DESCRIPTION_MAX} characters"
    if errors:
        raise InvalidInput("the list is not valid", errors)


def _list_out(row: Any) -> ListOut:
    return ListOut(
        id=int(row["id"]),
        slug=row["slug"],
        names=Names(da=row["name_da"], sv=row["name_sv"], en=row["name_en"]),
        descriptions=Descriptions(
            da=row["description_da"], sv=row["description_sv"], en=row["description_en"]
        ),
        is_public=bool(row["is_public"]),
        double_optin=bool(row["double_optin"]),
        created_at=queries.aware(row["created_at"]),
    )
