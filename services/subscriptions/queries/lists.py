"""Mailing lists as the public pages and mails read them (the table belongs to campaigns)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import (
    mailing_lists,
    subscriptions,
)
from shared.statuses import SubscriptionStatus


@dataclass(frozen=True, slots=True)
class ListRow:
    """A mailing list as the sign-up pages need it."""

    id: int
    slug: str
    name_da: str
    name_sv: str
    name_en: str
    double_optin: bool = True
    youth: bool = False
    # The custom field keys a minor may give on this youth list (None: none).
    youth_fields: list[str] | None = None


_LIST_COLUMNS = (
    mailing_lists.c.id,
    mailing_lists.c.slug,
    mailing_lists.c.name_da,
    mailing_lists.c.name_sv,
    mailing_lists.c.name_en,
    mailing_lists.c.double_optin,
    mailing_lists.c.youth,
    mailing_lists.c.youth_fields,
)


def list_row(row: Mapping[str, Any]) -> ListRow:
    """A list as a driver's record carries the columns of ``_LIST_COLUMNS`` (queries written
    for asyncpg: first_signup.py, link_withdrawal.py). SQLAlchemy gives its pooled asyncpg
    connections a JSON codec, so youth_fields arrives decoded; as text without it."""
    youth_fields = row["youth_fields"]
    if isinstance(youth_fields, str):
        youth_fields = json.loads(youth_fields)
    return ListRow(
        int(row["id"]),
        row["slug"],
        row["name_da"],
        row["name_sv"],
        row["name_en"],
        bool(row["double_optin"]),
        bool(row["youth"]),
        youth_fields,
    )


# Built once (every sign-up reads its lists); the slugs come with the call.
_PUBLIC_LISTS = (
    sa.select(*_LIST_COLUMNS)
    .where(mailing_lists.c.is_public.is_(True))
    .order_by(mailing_lists.c.slug)
)
_PUBLIC_LISTS_AMONG = _PUBLIC_LISTS.where(
    mailing_lists.c.slug.in_(sa.bindparam("slugs", expanding=True))
)


async def get_public_lists(
    session: AsyncSession, slugs: Collection[str] | None = None
) -> list[ListRow]:
    """The lists residents may sign up for, in slug order: all of them, or those among
    ``slugs`` (unknown and private slugs are simply absent)."""
    if slugs is None:
        rows = await session.execute(_PUBLIC_LISTS)
    else:
        rows = await session.execute(_PUBLIC_LISTS_AMONG, {"slugs": list(slugs)})
    return [ListRow(*row) for row in rows]


async def get_list_by_slug(session: AsyncSession, slug: str) -> ListRow | None:
    """The list with this slug, public or private (staff imports into either)."""
    row = (
        await session.execute(sa.select(*_LIST_COLUMNS).where(mailing_lists.c.slug == slug))
    ).first()
    return ListRow(*row) if row else None


_LISTS_BY_ID = (  # built once: every confirm and unsubscribe link reads its lists
    sa.select(*_LIST_COLUMNS)
    .where(mailing_lists.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(mailing_lists.c.slug)
)


async def get_lists_by_id(session: AsyncSession, list_ids: Collection[int]) -> list[ListRow]:
    """Lists by id, in slug order (private ones too: a confirm link may name them)."""
    if not list_ids:
        return []
    rows = await session.execute(_LISTS_BY_ID, {"ids": list(list_ids)})
    return [ListRow(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class ListTextRow:
    """A public list with its names and descriptions in every language."""

    slug: str
    name_da: str
    name_sv: str
    name_en: str
    description_da: str
    description_sv: str
    description_en: str
    youth: bool = False


async def get_public_list_texts(session: AsyncSession) -> list[ListTextRow]:
    """Every public list with names and descriptions, in slug order."""
    query = (
        sa.select(
            mailing_lists.c.slug,
            mailing_lists.c.name_da,
            mailing_lists.c.name_sv,
            mailing_lists.c.name_en,
            mailing_lists.c.description_da,
            mailing_lists.c.description_sv,
            mailing_lists.c.description_en,
            mailing_lists.c.youth,
        )
        .where(mailing_lists.c.is_public.is_(True))
        .order_by(mailing_lists.c.slug)
    )
    return [ListTextRow(*row) for row in await session.execute(query)]


@dataclass(frozen=True, slots=True)
class PreferenceListRow:
    """A list on the preference page, with the subscriber's status on it (None: not on it)."""

    id: int
    slug: str
    name_da: str
    name_sv: str
    name_en: str
    description_da: str
    description_sv: str
    description_en: str
    is_public: bool
    double_optin: bool
    status: str | None


async def get_preference_lists(
    session: AsyncSession, subscriber_id: int
) -> list[PreferenceListRow]:
    """Public lists, plus private ones the subscriber is on (pending or confirmed), by slug."""
    joined = mailing_lists.outerjoin(
        subscriptions,
        sa.and_(
            subscriptions.c.list_id == mailing_lists.c.id,
            subscriptions.c.subscriber_id == subscriber_id,
        ),
    )
    query = (
        sa.select(
            mailing_lists.c.id,
            mailing_lists.c.slug,
            mailing_lists.c.name_da,
            mailing_lists.c.name_sv,
            mailing_lists.c.name_en,
            mailing_lists.c.description_da,
            mailing_lists.c.description_sv,
            mailing_lists.c.description_en,
            mailing_lists.c.is_public,
            mailing_lists.c.double_optin,
            subscriptions.c.status,
        )
        .select_from(joined)
        .where(
            sa.or_(
                mailing_lists.c.is_public.is_(True),
                subscriptions.c.status.in_(
                    [SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED]
                ),
            )
        )
        .order_by(mailing_lists.c.slug)
    )
    return [PreferenceListRow(*row) for row in await session.execute(query)]


@dataclass(frozen=True, slots=True)
class WelcomeRow:
    """A list's welcome mail in one language, with the list's names."""

    list_id: int
    slug: str
    name_da: str
    name_sv: str
    name_en: str
    subject: str | None
    body: str | None


async def get_welcome_texts(
    session: AsyncSession, list_ids: Collection[int], language: str
) -> list[WelcomeRow]:
    """Each list's welcome subject and body in ``language`` (None where staff wrote none: a
    welcome is sent in the subscriber's language or not at all)."""
    if not list_ids:
        return []
    query = (
        sa.select(
            mailing_lists.c.id,
            mailing_lists.c.slug,
            mailing_lists.c.name_da,
            mailing_lists.c.name_sv,
            mailing_lists.c.name_en,
            mailing_lists.c[f"welcome_subject_{language}"],
            mailing_lists.c[f"welcome_body_{language}"],
        )
        .where(mailing_lists.c.id.in_(list(list_ids)))
        .order_by(mailing_lists.c.id)
    )
    return [WelcomeRow(*row) for row in await session.execute(query)]
