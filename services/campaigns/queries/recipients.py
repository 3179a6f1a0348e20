"""Who a campaign reaches, for the editor and its preview: lists with their confirmed counts,
confirmed subscribers of a campaign's lists found by address prefix, one of them by id.

Reads the subscriptions service's tables (subscribers, subscriptions) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import mailing_lists, subscribers, subscriptions
from shared.statuses import SubscriberStatus, SubscriptionStatus


@dataclass(frozen=True, slots=True)
class ListChoice:
    """A list a campaign may go to, with its names and how many confirmed readers it has."""

    id: int
    slug: str
    name_da: str
    name_sv: str
    name_en: str
    confirmed: int


@dataclass(frozen=True, slots=True)
class RecipientRow:
    """A confirmed subscriber of a campaign's lists, as the preview renders them."""

    id: int
    email: str
    name: str | None
    language: str


async def list_choices(session: AsyncSession) -> list[ListChoice]:
    """Every list in slug order with its confirmed subscriptions of active subscribers."""
    confirmed = (
        sa.select(subscriptions.c.list_id, sa.func.count().label("confirmed"))
        .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
        .where(
            subscriptions.c.status == SubscriptionStatus.CONFIRMED,
            subscribers.c.status == SubscriberStatus.ACTIVE,
        )
        .group_by(subscriptions.c.list_id)
        .subquery()
    )
    result = await session.execute(
        sa.select(
            mailing_lists.c.id,
            mailing_lists.c.slug,
            mailing_lists.c.name_da,
            mailing_lists.c.name_sv,
            mailing_lists.c.name_en,
            sa.func.coalesce(confirmed.c.confirmed, 0).label("confirmed"),
        )
        .outerjoin(confirmed, confirmed.c.list_id == mailing_lists.c.id)
        .order_by(mailing_lists.c.slug)
    )
    return [
        ListChoice(
            id=int(row.id),
            slug=str(row.slug),
            name_da=str(row.name_da),
            name_sv=str(row.name_sv),
            name_en=str(row.name_en),
            confirmed=int(row.confirmed),
        )
        for row in result
    ]


def _confirmed_in(list_ids: Sequence[int]) -> sa.Exists:
    return (
        sa.exists()
        .where(subscriptions.c.subscriber_id == subscribers.c.id)
        .where(subscriptions.c.list_id.in_(list_ids))
        .where(subscriptions.c.status == SubscriptionStatus.CONFIRMED)
    )


def _recipient(row: RowMapping) -> RecipientRow:
    return RecipientRow(
        id=int(row["id"]), email=str(row["email"]), name=row["name"], language=str(row["language"])
    )


_COLUMNS = (subscribers.c.id, subscribers.c.email, subscribers.c.name, subscribers.c.language)


async def recipients_by_prefix(
    session: AsyncSession, list_ids: Sequence[int], key_prefix: str, limit: int
) -> list[RecipientRow]:
    """Active subscribers confirmed in one of ``list_ids`` whose identity key starts with
    ``key_prefix``, in key order (the unique index on ``email_key`` serves the prefix)."""
    if not list_ids:
        return []
    escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result = await session.execute(
        sa.select(*_COLUMNS)
        .where(
            subscribers.c.email_key.like(escaped + "%", escape="\\"),
            subscribers.c.status == SubscriberStatus.ACTIVE,
            _confirmed_in(list_ids),
        )
        .order_by(subscribers.c.email_key)
        .limit(limit)
    )
    return [_recipient(row) for row in result.mappings()]


async def recipient_by_id(
    session: AsyncSession, subscriber_id: int, list_ids: Sequence[int]
) -> RecipientRow | None:
    """The subscriber if they are active and confirmed in one of ``list_ids``, else None."""
    if not list_ids:
        return None
    result = await session.execute(
        sa.select(*_COLUMNS).where(
            subscribers.c.id == subscriber_id,
            subscribers.c.status == SubscriberStatus.ACTIVE,
            _confirmed_in(list_ids),
        )
    )
    row = result.mappings().first()
    return _recipient(row) if row is not None else None
