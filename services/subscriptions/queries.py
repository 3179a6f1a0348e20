"""Every SQL statement of the subscriptions service (SQLAlchemy Core over shared.schema)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.schema import mailing_lists, member_sites, subscribers, subscriptions

PENDING = "pending"
CONFIRMED = "confirmed"
UNSUBSCRIBED = "unsubscribed"
ACTIVE = "active"


class ListRow(NamedTuple):
    """A mailing list as the sign-up pages need it."""

    id: int
    slug: str
    name_da: str
    name_sv: str
    name_en: str


class SubscriberRow(NamedTuple):
    """The subscriber columns the domain functions read."""

    id: int
    key: str
    email: str
    name: str | None
    language: str
    status: str


_LIST_COLUMNS = (
    mailing_lists.c.id,
    mailing_lists.c.slug,
    mailing_lists.c.name_da,
    mailing_lists.c.name_sv,
    mailing_lists.c.name_en,
)
_SUBSCRIBER_COLUMNS = (
    subscribers.c.id,
    subscribers.c.key,
    subscribers.c.email,
    subscribers.c.name,
    subscribers.c.language,
    subscribers.c.status,
)


async def get_public_lists(session: AsyncSession) -> list[ListRow]:
    """All lists residents may sign up for, in slug order."""
    query = (
        sa.select(*_LIST_COLUMNS)
        .where(mailing_lists.c.is_public.is_(True))
        .order_by(mailing_lists.c.slug)
    )
    return [ListRow(*row) for row in await session.execute(query)]


async def get_public_lists_by_slug(session: AsyncSession, slugs: Collection[str]) -> list[ListRow]:
    """The public lists among ``slugs``; unknown and private slugs are simply absent."""
    query = sa.select(*_LIST_COLUMNS).where(
        mailing_lists.c.slug.in_(list(slugs)), mailing_lists.c.is_public.is_(True)
    )
    return [ListRow(*row) for row in await session.execute(query)]


async def get_lists_by_id(session: AsyncSession, list_ids: Collection[int]) -> list[ListRow]:
    """Lists by id, in slug order (private ones too: a confirm link may name them)."""
    query = (
        sa.select(*_LIST_COLUMNS)
        .where(mailing_lists.c.id.in_(list(list_ids)))
        .order_by(mailing_lists.c.slug)
    )
    return [ListRow(*row) for row in await session.execute(query)]


async def get_site_id(session: AsyncSession, site_key: str) -> int | None:
    """The id of the member site with this key, if there is one."""
    query = sa.select(member_sites.c.id).where(member_sites.c.key == site_key)
    value = (await session.execute(query)).scalar_one_or_none()
    return int(value) if value is not None else None


async def get_subscriber_by_email(session: AsyncSession, email: str) -> SubscriberRow | None:
    """The subscriber with this (normalised) address."""
    query = sa.select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.email == email)
    row = (await session.execute(query)).first()
    return SubscriberRow(*row) if row else None


async def get_subscriber_by_key(session: AsyncSession, key: str) -> SubscriberRow | None:
    """The subscriber with this opaque key."""
    query = sa.select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.key == key)
    row = (await session.execute(query)).first()
    return SubscriberRow(*row) if row else None


async def insert_subscriber(
    session: AsyncSession,
    *,
    key: str,
    email: str,
    name: str | None,
    language: str,
    source_site_id: int | None,
    now: datetime,
) -> SubscriberRow:
    """Insert an active subscriber; a concurrent insert of the address raises IntegrityError."""
    query = (
        sa.insert(subscribers)
        .values(
            key=key,
            email=email,
            name=name,
            language=language,
            status=ACTIVE,
            source_site_id=source_site_id,
            created_at=now,
            updated_at=now,
        )
        .returning(*_SUBSCRIBER_COLUMNS)
    )
    return SubscriberRow(*(await session.execute(query)).one())


async def get_subscription_statuses(
    session: AsyncSession, subscriber_id: int, list_ids: Collection[int]
) -> dict[int, str]:
    """The status of each existing subscription of a subscriber among ``list_ids``."""
    query = sa.select(subscriptions.c.list_id, subscriptions.c.status).where(
        subscriptions.c.subscriber_id == subscriber_id,
        subscriptions.c.list_id.in_(list(list_ids)),
    )
    return {int(list_id): str(status) for list_id, status in await session.execute(query)}


async def insert_pending_subscriptions(
    session: AsyncSession,
    subscriber_id: int,
    list_ids: Sequence[int],
    source_site_id: int | None,
    now: datetime,
) -> None:
    """Insert pending subscriptions; a concurrent insert raises IntegrityError."""
    if not list_ids:
        return
    rows = [
        {
            "subscriber_id": subscriber_id,
            "list_id": list_id,
            "status": PENDING,
            "source_site_id": source_site_id,
            "requested_at": now,
        }
        for list_id in list_ids
    ]
    await session.execute(sa.insert(subscriptions), rows)


async def reopen_unsubscribed(
    session: AsyncSession,
    subscriber_id: int,
    list_ids: Sequence[int],
    source_site_id: int | None,
    now: datetime,
) -> None:
    """Move unsubscribed rows back to pending: a new request needs a new confirmation."""
    if not list_ids:
        return
    await session.execute(
        sa.update(subscriptions)
        .where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.list_id.in_(list(list_ids)),
            subscriptions.c.status == UNSUBSCRIBED,
        )
        .values(
            status=PENDING,
            source_site_id=source_site_id,
            requested_at=now,
            confirmed_at=None,
            unsubscribed_at=None,
        )
    )


async def confirm_pending(
    session: AsyncSession, subscriber_id: int, list_ids: Collection[int], now: datetime
) -> int:
    """Confirm the still-pending subscriptions among ``list_ids``; return how many changed."""
    result = await session.execute(
        sa.update(subscriptions)
        .where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.list_id.in_(list(list_ids)),
            subscriptions.c.status == PENDING,
        )
        .values(status=CONFIRMED, confirmed_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def unsubscribe_all(session: AsyncSession, subscriber_id: int, now: datetime) -> int:
    """Unsubscribe a subscriber from every list; return how many rows changed."""
    result = await session.execute(
        sa.update(subscriptions)
        .where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.status != UNSUBSCRIBED,
        )
        .values(status=UNSUBSCRIBED, unsubscribed_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def touch_subscriber(session: AsyncSession, subscriber_id: int, now: datetime) -> None:
    """Record that a subscriber's subscriptions changed."""
    await session.execute(
        sa.update(subscribers).where(subscribers.c.id == subscriber_id).values(updated_at=now)
    )


async def ping_database(engine: AsyncEngine) -> None:
    """Run ``SELECT 1``; raise when the database does not answer."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
