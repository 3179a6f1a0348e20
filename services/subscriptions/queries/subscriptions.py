"""Subscriptions: one subscriber on one list, from request to confirmation or withdrawal."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions.queries.eligibility import recount_confirmed_lists
from shared.schema import (
    mailing_lists,
    member_sites,
    subscriptions,
)
from shared.statuses import SubscriptionStatus


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
            "status": SubscriptionStatus.PENDING,
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
            subscriptions.c.status == SubscriptionStatus.UNSUBSCRIBED,
        )
        .values(
            status=SubscriptionStatus.PENDING,
            source_site_id=source_site_id,
            requested_at=now,
            confirmed_at=None,
            unsubscribed_at=None,
        )
    )


async def confirm_pending_lists(
    session: AsyncSession, subscriber_id: int, list_ids: Collection[int], now: datetime
) -> list[int]:
    """Confirm the still-pending subscriptions among ``list_ids``; return the ids changed.

    Only rows this statement changed are returned, so of two concurrent confirmations only
    one sees a list as newly confirmed. When any changed, the subscriber's count of confirmed
    lists and ``updated_at`` follow.
    """
    if not list_ids:
        return []
    result = await session.execute(
        sa.update(subscriptions)
        .where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.list_id.in_(list(list_ids)),
            subscriptions.c.status == SubscriptionStatus.PENDING,
        )
        .values(status=SubscriptionStatus.CONFIRMED, confirmed_at=now)
        .returning(subscriptions.c.list_id)
    )
    changed = sorted(int(list_id) for list_id in result.scalars())
    if changed:
        await recount_confirmed_lists(session, [subscriber_id], touched_at=now)
    return changed


# Built once (every unsubscribe link runs one); the values come with the call.
_LEAVE_ALL = (
    sa.update(subscriptions)
    .where(
        subscriptions.c.subscriber_id == sa.bindparam("member"),
        subscriptions.c.status != SubscriptionStatus.UNSUBSCRIBED,
    )
    .values(status=SubscriptionStatus.UNSUBSCRIBED, unsubscribed_at=sa.bindparam("now"))
    .returning(subscriptions.c.list_id)
)
_LEAVE_LISTS = _LEAVE_ALL.where(
    subscriptions.c.list_id.in_(sa.bindparam("list_ids", expanding=True))
)


async def leave_lists(
    session: AsyncSession, subscriber_id: int, list_ids: Collection[int] | None, now: datetime
) -> list[int]:
    """Unsubscribe from ``list_ids`` (None: every list); return the ids this statement changed.

    Only rows changed here are returned, so a withdrawal is recorded once, for exactly the
    subscriptions it ended, however many requests race. When any changed, the subscriber's
    count of confirmed lists and ``updated_at`` follow.
    """
    if list_ids is not None and not list_ids:
        return []
    params: dict[str, object] = {"member": subscriber_id, "now": now}
    if list_ids is None:
        result = await session.execute(_LEAVE_ALL, params)
    else:
        result = await session.execute(_LEAVE_LISTS, {**params, "list_ids": list(list_ids)})
    changed = sorted(int(list_id) for list_id in result.scalars())
    if changed:
        await recount_confirmed_lists(session, [subscriber_id], touched_at=now)
    return changed


async def has_confirmed_subscription(session: AsyncSession, subscriber_id: int) -> bool:
    """Whether the subscriber is confirmed on any list (the address's owner has acted)."""
    query = sa.select(
        sa.exists().where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.status == SubscriptionStatus.CONFIRMED,
        )
    )
    return bool(await session.scalar(query))


@dataclass(frozen=True, slots=True)
class SubscriptionHistoryRow:
    """One subscription as an export shows it: by list slug and site key, with its times."""

    list_slug: str
    status: str
    requested_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    site_key: str | None


async def get_subscriptions_of(
    session: AsyncSession, subscriber_id: int
) -> list[SubscriptionHistoryRow]:
    """A subscriber's subscriptions with list slugs and timestamps, for an export."""
    query = (
        sa.select(
            mailing_lists.c.slug,
            subscriptions.c.status,
            subscriptions.c.requested_at,
            subscriptions.c.confirmed_at,
            subscriptions.c.unsubscribed_at,
            member_sites.c.key,
        )
        .select_from(
            subscriptions.join(
                mailing_lists, mailing_lists.c.id == subscriptions.c.list_id
            ).outerjoin(member_sites, member_sites.c.id == subscriptions.c.source_site_id)
        )
        .where(subscriptions.c.subscriber_id == subscriber_id)
        .order_by(mailing_lists.c.slug)
    )
    return [SubscriptionHistoryRow(*row) for row in await session.execute(query)]
