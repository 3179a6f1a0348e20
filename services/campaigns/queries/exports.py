"""A list's members for a CSV export, read in keyset pages (read-only: subscriptions owns them)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import subscribers, subscriptions


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One subscriber on a list as an export writes it."""

    id: int
    email: str
    name: str | None
    language: str
    municipality: str | None
    custom_values: dict[str, Any] | None
    status: str
    requested_at: datetime
    confirmed_at: datetime | None


async def list_members_page(
    session: AsyncSession,
    list_id: int,
    statuses: Collection[str],
    *,
    after_id: int,
    limit: int,
) -> list[MemberRow]:
    """Up to ``limit`` members of a list in these subscription states, by subscriber id after
    ``after_id`` (the page order is the index order: constant work per page)."""
    # Segments (shared/segments.py) narrow the selection with one more condition here.
    query = (
        sa.select(
            subscribers.c.id,
            subscribers.c.email,
            subscribers.c.name,
            subscribers.c.language,
            subscribers.c.municipality,
            subscribers.c.custom_values,
            subscriptions.c.status,
            subscriptions.c.requested_at,
            subscriptions.c.confirmed_at,
        )
        .join(subscriptions, subscriptions.c.subscriber_id == subscribers.c.id)
        .where(
            subscriptions.c.list_id == list_id,
            subscriptions.c.status.in_(list(statuses)),
            subscriptions.c.subscriber_id > after_id,
        )
        .order_by(subscriptions.c.subscriber_id)
        .limit(limit)
    )
    return [MemberRow(*row) for row in await session.execute(query)]
