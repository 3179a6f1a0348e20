"""Webhook endpoints and their deliveries (the queue and the log in one table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import aware
from shared.db import conflict_insert
from shared.schema import webhook_deliveries, webhook_endpoints

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """A registered endpoint; ``secret`` signs its deliveries."""

    id: int
    url: str
    description: str
    events: tuple[str, ...]
    secret: str
    active: bool
    failures_in_row: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One event for one endpoint, with the outcome of its last attempt."""

    id: int
    endpoint_id: int
    message_id: str
    event_type: str
    body: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to add for an endpoint; ``source`` makes adding it twice a no-op."""

    endpoint_id: int
    message_id: str
    source: str
    event_type: str
    body: str


def _when(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None


def _endpoint(row: RowMapping) -> EndpointRow:
    return EndpointRow(
        id=int(row["id"]),
        url=row["url"],
        description=row["description"],
        events=tuple(row["events"] or ()),
        secret=row["secret"],
        active=bool(row["active"]),
        failures_in_row=int(row["failures_in_row"]),
        disabled_at=_when(row["disabled_at"]),
        disabled_reason=row["disabled_reason"],
        created_at=aware(row["created_at"]),
    )


def _delivery(row: RowMapping) -> DeliveryRow:
    return DeliveryRow(
        id=int(row["id"]),
        endpoint_id=int(row["endpoint_id"]),
        message_id=row["message_id"],
        event_type=row["event_type"],
        body=row["body"],
        status=row["status"],
        attempts=int(row["attempts"]),
        next_attempt_at=_when(row["next_attempt_at"]),
        last_code=row["last_code"],
        last_error=row["last_error"],
        created_at=aware(row["created_at"]),
        delivered_at=_when(row["delivered_at"]),
    )


async def insert_endpoint(
    session: AsyncSession,
    *,
    url: str,
    description: str,
    events: Sequence[str],
    secret: str,
    now: datetime,
) -> int:
    """Add an active endpoint; its id."""
    result = await session.execute(
        sa.insert(webhook_endpoints)
        .values(
            url=url,
            description=description,
            events=list(events),
            secret=secret,
            active=True,
            failures_in_row=0,
            created_at=now,
            updated_at=now,
        )
        .returning(webhook_endpoints.c.id)
    )
    return int(result.scalar_one())


async def endpoint_by_id(session: AsyncSession, endpoint_id: int) -> EndpointRow | None:
    """One endpoint, or None."""
    result = await session.execute(
        sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    )
    row = result.mappings().first()
    return _endpoint(row) if row is not None else None


async def all_endpoints(session: AsyncSession) -> list[EndpointRow]:
    """Every endpoint, oldest first (there are a handful, not thousands)."""
    result = await session.execute(sa.select(webhook_endpoints).order_by(webhook_endpoints.c.id))
    return [_endpoint(row) for row in result.mappings()]


async def update_endpoint(
    session: AsyncSession,
    endpoint_id: int,
    now: datetime,
    *,
    url: str | None = None,
    description: str | None = None,
    events: Sequence[str] | None = None,
) -> bool:
    """Change what is given; False if there is no such endpoint."""
    values: dict[str, object] = {"updated_at": now}
    if url is not None:
        values["url"] = url
    if description is not None:
        values["description"] = description
    if events is not None:
        values["events"] = list(events)
    result = await session.execute(
        sa.update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(values)
    )
    return rowcount(result) > 0


async def set_endpoint_active(
    session: AsyncSession, endpoint_id: int, active: bool, now: datetime, reason: str | None
) -> bool:
    """Enable (failure count back to zero) or disable an endpoint; False if there is none."""
    values: dict[str, object] = {"active": active, "updated_at": now}
    if active:
        values.update(failures_in_row=0, disabled_at=None, disabled_reason=None)
    else:
        values.update(disabled_at=now, disabled_reason=reason)
    result = await session.execute(
        sa.update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(values)
    )
    return rowcount(result) > 0


async def delete_endpoint(session: AsyncSession, endpoint_id: int) -> bool:
    """Remove an endpoint and its log; False if there was none."""
    result = await session.execute(
        sa.delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    )
    return rowcount(result) > 0


async def add_deliveries(
    session: AsyncSession, deliveries: Sequence[NewDelivery], now: datetime
) -> int:
    """Queue deliveries due now, skipping any already added from the same source."""
    if not deliveries:
        return 0
    statement = conflict_insert(session.get_bind().dialect.name, webhook_deliveries)
    result = await session.execute(
        statement.on_conflict_do_nothing(index_elements=["endpoint_id", "source"]),
        [
            {
                "endpoint_id": item.endpoint_id,
                "message_id": item.message_id,
                "source": item.source,
                "event_type": item.event_type,
                "body": item.body,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for item in deliveries
        ],
    )
    return rowcount(result)


async def due_deliveries(session: AsyncSession, now: datetime, limit: int) -> list[DeliveryRow]:
    """Pending deliveries of active endpoints whose time has come, oldest first."""
    result = await session.execute(
        sa.select(webhook_deliveries)
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
        .where(webhook_deliveries.c.status == PENDING)
        .where(webhook_deliveries.c.next_attempt_at <= now)
        .where(webhook_endpoints.c.active.is_(True))
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
        .limit(limit)
    )
    return [_delivery(row) for row in result.mappings()]


async def claim_delivery(
    session: AsyncSession, delivery: DeliveryRow, lease: timedelta, now: datetime
) -> bool:
    """Move a due delivery's next attempt past the attempt's lease; True if this caller won.

    Replicas polling at once race on this one conditional UPDATE: the loser sees no row
    changed. A replica that dies mid-attempt leaves the delivery due again when the lease ends.
    """
    result = await session.execute(
        sa.update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery.id)
        .where(webhook_deliveries.c.status == PENDING)
        .where(webhook_deliveries.c.attempts == delivery.attempts)
        .where(webhook_deliveries.c.next_attempt_at <= now)
        .values(next_attempt_at=now + lease, updated_at=now)
    )
    return rowcount(result) > 0


async def record_attempt(
    session: AsyncSession,
    delivery_id: int,
    *,
    status: str,
    code: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> None:
    """Store an attempt's outcome and what comes next."""
    await session.execute(
        sa.update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(
            status=status,
            attempts=webhook_deliveries.c.attempts + 1,
            last_code=code,
            last_error=error,
            next_attempt_at=next_attempt_at,
            updated_at=now,
            delivered_at=now if status == DELIVERED else None,
        )
    )


async def reset_failures(session: AsyncSession, endpoint_id: int) -> None:
    """A delivery succeeded: the endpoint's run of failures is over."""
    await session.execute(
        sa.update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .where(webhook_endpoints.c.failures_in_row > 0)
        .values(failures_in_row=0)
    )


async def count_failure(session: AsyncSession, endpoint_id: int) -> int:
    """Add a delivery that exhausted its retries to the endpoint's run; the run's length."""
    await session.execute(
        sa.update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(failures_in_row=webhook_endpoints.c.failures_in_row + 1)
    )
    result = await session.execute(
        sa.select(webhook_endpoints.c.failures_in_row).where(webhook_endpoints.c.id == endpoint_id)
    )
    return int(result.scalar_one_or_none() or 0)


async def deliveries_of(
    session: AsyncSession, endpoint_id: int, *, before: int | None, limit: int
) -> list[DeliveryRow]:
    """An endpoint's deliveries, newest first; ``before`` a delivery id pages back."""
    statement = (
        sa.select(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        statement = statement.where(webhook_deliveries.c.id < before)
    result = await session.execute(statement)
    return [_delivery(row) for row in result.mappings()]


async def delivery_by_id(session: AsyncSession, delivery_id: int) -> DeliveryRow | None:
    """One delivery, or None."""
    result = await session.execute(
        sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
    )
    row = result.mappings().first()
    return _delivery(row) if row is not None else None


async def prune_deliveries(session: AsyncSession, before: datetime) -> int:
    """Delete finished deliveries created before ``before``; how many."""
    result = await session.execute(
        sa.delete(webhook_deliveries)
        .where(webhook_deliveries.c.status.in_([DELIVERED, FAILED]))
        .where(webhook_deliveries.c.created_at < before)
    )
    return rowcount(result)
