"""Minors on youth lists: their year of birth, guardian, minor flag and age review."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import subscribers, subscriptions
from shared.statuses import SubscriberStatus, SubscriptionStatus


@dataclass(frozen=True, slots=True)
class MinorRow:
    """A subscriber's youth data: the year of birth, the minor flag and the guardian."""

    subscriber_id: int
    key: str
    email: str
    language: str
    birth_year: int | None
    minor: bool
    guardian_email: str | None


_MINOR_COLUMNS = (
    subscribers.c.id,
    subscribers.c.key,
    subscribers.c.email,
    subscribers.c.language,
    subscribers.c.birth_year,
    subscribers.c.minor,
    subscribers.c.guardian_email,
)


async def get_minor_row(session: AsyncSession, subscriber_id: int) -> MinorRow | None:
    """A subscriber's youth data."""
    query = sa.select(*_MINOR_COLUMNS).where(subscribers.c.id == subscriber_id)
    row = (await session.execute(query)).first()
    return MinorRow(*row) if row else None


async def is_minor(session: AsyncSession, subscriber_id: int) -> bool:
    """Whether a subscriber is flagged as under the age of digital consent."""
    query = sa.select(subscribers.c.minor).where(subscribers.c.id == subscriber_id)
    return bool(await session.scalar(query))


async def mark_minor(
    session: AsyncSession,
    subscriber_id: int,
    *,
    birth_year: int,
    guardian_email: str,
    now: datetime,
) -> None:
    """Flag a subscriber as a minor with the guardian who is asked to confirm."""
    await session.execute(
        sa.update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(
            birth_year=birth_year,
            minor=True,
            guardian_email=guardian_email,
            age_review_sent_at=None,
            updated_at=now,
        )
    )


async def store_birth_year(session: AsyncSession, subscriber_id: int, birth_year: int) -> None:
    """Keep the year of birth a youth list asked, unless one is stored already."""
    await session.execute(
        sa.update(subscribers)
        .where(subscribers.c.id == subscriber_id, subscribers.c.birth_year.is_(None))
        .values(birth_year=birth_year)
    )


async def end_minority(session: AsyncSession, subscriber_id: int, now: datetime) -> bool:
    """Clear the minor flag (the resident confirmed their own consent); True when it was set.

    The guardian's address is no longer needed and goes with it.
    """
    result = await session.execute(
        sa.update(subscribers)
        .where(subscribers.c.id == subscriber_id, subscribers.c.minor.is_(True))
        .values(minor=False, guardian_email=None, updated_at=now)
        .returning(subscribers.c.id)
    )
    return result.first() is not None


async def get_due_age_reviews(
    session: AsyncSession, *, born_in_or_before: int, limit: int
) -> list[MinorRow]:
    """Active minors born in or before a year and not yet asked to confirm their own consent,
    who are on some list; by id, at most ``limit``."""
    on_a_list = sa.exists().where(
        subscriptions.c.subscriber_id == subscribers.c.id,
        subscriptions.c.status == SubscriptionStatus.CONFIRMED,
    )
    query = (
        sa.select(*_MINOR_COLUMNS)
        .where(
            subscribers.c.minor.is_(True),
            subscribers.c.status == SubscriberStatus.ACTIVE,
            subscribers.c.birth_year <= born_in_or_before,
            subscribers.c.age_review_sent_at.is_(None),
            on_a_list,
        )
        .order_by(subscribers.c.id)
        .limit(limit)
    )
    return [MinorRow(*row) for row in await session.execute(query)]


async def mark_age_review_sent(
    session: AsyncSession, subscriber_ids: Sequence[int], now: datetime
) -> None:
    """Record that these residents were asked to confirm their own consent."""
    if subscriber_ids:
        await session.execute(
            sa.update(subscribers)
            .where(subscribers.c.id.in_(list(subscriber_ids)))
            .values(age_review_sent_at=now)
        )


async def get_confirmed_list_ids(session: AsyncSession, subscriber_id: int) -> list[int]:
    """The lists a subscriber is confirmed on."""
    query = sa.select(subscriptions.c.list_id).where(
        subscriptions.c.subscriber_id == subscriber_id,
        subscriptions.c.status == SubscriptionStatus.CONFIRMED,
    )
    return sorted(int(list_id) for list_id in (await session.execute(query)).scalars())
