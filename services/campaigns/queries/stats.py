"""Read-only figures from the subscriptions service's and the mailer's tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import aware, utcnow
from shared.schema import (
    audit_log,
    campaign_lists,
    campaign_runs,
    campaign_segments,
    deliveries,
    segments,
    subscribers,
    subscriptions,
)
from shared.segment_sql import CUSTOM_PLANS, Context, compile_group, eligible
from shared.segments import from_builtins
from shared.statuses import DeliveryStatus, SubscriberStatus, SubscriptionStatus


async def site_subscription_counts(session: AsyncSession, site_id: int) -> dict[str, int]:
    """Subscriptions that came in through a site, by status."""
    result = await session.execute(
        sa.select(subscriptions.c.status, sa.func.count())
        .where(subscriptions.c.source_site_id == site_id)
        .group_by(subscriptions.c.status)
    )
    return {status: int(number) for status, number in result.all()}


async def site_signups_per_day(
    session: AsyncSession, site_id: int, since: datetime
) -> dict[date, int]:
    """Distinct residents per UTC day whose sign-up through a site was requested since ``since``."""
    day = _utc_day(session, subscriptions.c.requested_at)
    result = await session.execute(
        sa.select(day, sa.func.count(sa.distinct(subscriptions.c.subscriber_id)))
        .where(
            subscriptions.c.source_site_id == site_id,
            subscriptions.c.requested_at >= since,
        )
        .group_by(day)
    )
    return {date.fromisoformat(str(day_text)): int(number) for day_text, number in result.all()}


def _utc_day(session: AsyncSession, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The UTC calendar day of a timestamp as YYYY-MM-DD text, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        # timestamptz: the day depends on the session time zone unless pinned to UTC.
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")
    # SQLite keeps the UTC wall-clock time as text; date() takes its first ten characters.
    return sa.func.date(column)


async def delivery_counts(
    session: AsyncSession, campaign_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """Number of ledger rows per campaign and delivery status."""
    result = await session.execute(
        sa.select(deliveries.c.campaign_id, deliveries.c.status, sa.func.count())
        .where(deliveries.c.campaign_id.in_(campaign_ids))
        .group_by(deliveries.c.campaign_id, deliveries.c.status)
    )
    counts: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    for campaign_id, status, number in result.all():
        counts[int(campaign_id)][status] = int(number)
    return counts


async def delivery_counts_by_variant(
    session: AsyncSession, campaign_id: int
) -> dict[str, dict[str, int]]:
    """Number of a campaign's ledger rows per language variant and status (rows the mailer
    has made a message for; none for a campaign without variants)."""
    result = await session.execute(
        sa.select(deliveries.c.variant, deliveries.c.status, sa.func.count())
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.variant.is_not(None))
        .group_by(deliveries.c.variant, deliveries.c.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for variant, status, number in result.all():
        counts.setdefault(str(variant), {})[str(status)] = int(number)
    return counts


@dataclass(frozen=True, slots=True)
class RunRow:
    """The mailer's run of a campaign: its state, recipient count and why it failed, if it did."""

    campaign_id: int
    state: str
    recipients: int
    started_at: datetime
    fanned_out_at: datetime | None
    finished_at: datetime | None
    failure: str | None


def _run(row: RowMapping) -> RunRow:
    return RunRow(
        campaign_id=int(row["campaign_id"]),
        state=str(row["state"]),
        recipients=int(row["recipients"]),
        started_at=aware(row["started_at"]),
        fanned_out_at=_maybe_aware(row["fanned_out_at"]),
        finished_at=_maybe_aware(row["finished_at"]),
        failure=row["failure"],
    )


async def campaign_run_rows(
    session: AsyncSession, campaign_ids: Sequence[int]
) -> dict[int, RunRow]:
    """The mailer's run row of each campaign that has one."""
    result = await session.execute(
        sa.select(campaign_runs).where(campaign_runs.c.campaign_id.in_(campaign_ids))
    )
    runs = [_run(row) for row in result.mappings()]
    return {run.campaign_id: run for run in runs}


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A failed ledger row with the relay's last word; the address is None once erased."""

    id: int
    email: str | None
    attempts: int
    last_code: int | None
    last_response: str | None
    updated_at: datetime


async def failed_deliveries(
    session: AsyncSession, campaign_id: int, limit: int, offset: int
) -> list[FailedDelivery]:
    """A page of the campaign's failed ledger rows with the address (None once erased)."""
    result = await session.execute(
        sa.select(
            deliveries.c.id,
            subscribers.c.email,
            deliveries.c.attempts,
            deliveries.c.last_code,
            deliveries.c.last_response,
            deliveries.c.updated_at,
        )
        .select_from(
            deliveries.outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        )
        .where(
            deliveries.c.campaign_id == campaign_id, deliveries.c.status == DeliveryStatus.FAILED
        )
        .order_by(deliveries.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [
        FailedDelivery(
            id=int(row["id"]),
            email=row["email"],
            attempts=int(row["attempts"]),
            last_code=int(row["last_code"]) if row["last_code"] is not None else None,
            last_response=row["last_response"],
            updated_at=aware(row["updated_at"]),
        )
        for row in result.mappings()
    ]


async def failed_summary(session: AsyncSession, campaign_id: int) -> tuple[int, datetime | None]:
    """How many of the campaign's rows failed, and when the latest of them changed."""
    result = await session.execute(
        sa.select(sa.func.count(), sa.func.max(deliveries.c.updated_at)).where(
            deliveries.c.campaign_id == campaign_id, deliveries.c.status == DeliveryStatus.FAILED
        )
    )
    count, latest = result.one()
    return int(count), _maybe_aware(latest)


def _maybe_aware(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None


# --- a campaign's progress and audience ----------------------------------------------------


async def audience_size(session: AsyncSession, campaign_id: int) -> int:
    """Active subscribers confirmed on at least one of the campaign's lists or in one of its
    segments, counted once."""
    confirmed = (
        sa.select(subscriptions.c.subscriber_id)
        .join(campaign_lists, campaign_lists.c.list_id == subscriptions.c.list_id)
        .where(
            campaign_lists.c.campaign_id == campaign_id,
            subscriptions.c.status == SubscriptionStatus.CONFIRMED,
        )
    )
    rules = (
        await session.execute(
            sa.select(segments.c.rules)
            .join(campaign_segments, campaign_segments.c.segment_id == segments.c.id)
            .where(campaign_segments.c.campaign_id == campaign_id)
        )
    ).scalars()
    context = Context(now=utcnow(), exclude_campaign=campaign_id)
    members = [compile_group(from_builtins(value), context) for value in rules]
    if members:
        # With segments, as the mailer's fan-out decides: eligible, and on a list or in a segment.
        where = sa.and_(eligible(), sa.or_(subscribers.c.id.in_(confirmed), *members))
    else:
        where = sa.and_(
            subscribers.c.id.in_(confirmed), subscribers.c.status == SubscriberStatus.ACTIVE
        )
    if members and session.get_bind().dialect.name == "postgresql":
        await session.execute(CUSTOM_PLANS)
    result = await session.execute(sa.select(sa.func.count()).where(where))
    return int(result.scalar_one())


def _utc_minute(session: AsyncSession, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The UTC minute of a timestamp as YYYY-MM-DDTHH:MM text, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI')
    return sa.func.strftime("%Y-%m-%dT%H:%M", column)


async def sends_per_minute(session: AsyncSession, campaign_id: int) -> dict[datetime, int]:
    """How many of the campaign's messages the relay accepted in each UTC minute."""
    minute = _utc_minute(session, deliveries.c.sent_at)
    result = await session.execute(
        sa.select(minute, sa.func.count())
        .where(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status == DeliveryStatus.SENT,
            deliveries.c.sent_at.is_not(None),
        )
        .group_by(minute)
    )
    return {
        datetime.fromisoformat(str(text)).replace(tzinfo=UTC): int(number)
        for text, number in result.all()
    }


async def sent_since(session: AsyncSession, campaign_id: int, since: datetime) -> int:
    """How many of the campaign's messages were accepted by the relay since ``since``."""
    result = await session.execute(
        sa.select(sa.func.count()).where(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status == DeliveryStatus.SENT,
            deliveries.c.sent_at >= since,
        )
    )
    return int(result.scalar_one())


async def unsubscribed_by_campaign(session: AsyncSession, campaign_id: int) -> int:
    """Residents who unsubscribed through a link in this campaign's mail (the audit log says)."""
    result = await session.execute(
        sa.select(sa.func.count(sa.distinct(audit_log.c.subscriber_ref))).where(
            audit_log.c.action == "unsubscribed",
            audit_log.c.details["campaign_id"].as_integer() == campaign_id,
        )
    )
    return int(result.scalar_one())


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """Who a test message is rendered as: a real subscriber's name, address and language."""

    id: int
    email: str
    name: str | None
    language: str


async def subscriber_by_id(session: AsyncSession, subscriber_id: int) -> SubscriberRow | None:
    """One subscriber, read only to render a test message as them."""
    result = await session.execute(
        sa.select(
            subscribers.c.id, subscribers.c.email, subscribers.c.name, subscribers.c.language
        ).where(subscribers.c.id == subscriber_id)
    )
    row = result.mappings().first()
    if row is None:
        return None
    return SubscriberRow(
        id=int(row["id"]), email=str(row["email"]), name=row["name"], language=str(row["language"])
    )
