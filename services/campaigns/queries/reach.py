"""Where residents live: counts by stored municipality value, read from the subscriptions
service's tables and the mailer's ledger. Grouping into regions and withholding small counts
is services/campaigns/reach.py's; these only count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schema import audit_log, deliveries, link_clicks, subscribers, subscriptions
from shared.statuses import DeliveryStatus, SubscriptionStatus

# (stored municipality value or None, residents)
MunicipalityCounts = dict[str | None, int]


def _utc_month(session: AsyncSession, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The UTC month of a timestamp as YYYY-MM text, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM")
    # SQLite keeps the UTC wall-clock time as text beginning with the date.
    return sa.func.substr(column, 1, 7)


def _distinct(column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    return sa.func.count(sa.distinct(column))


async def _counts(session: AsyncSession, statement: sa.Select[Any]) -> MunicipalityCounts:
    result = await session.execute(statement)
    return {value: int(number) for value, number in result.all()}


async def site_audience_by_municipality(session: AsyncSession, site_id: int) -> MunicipalityCounts:
    """Residents with a confirmed subscription that came in through a site, by municipality."""
    residents = sa.func.count(sa.distinct(subscriptions.c.subscriber_id))
    return await _counts(
        session,
        sa.select(subscribers.c.municipality, residents)
        .select_from(subscriptions.join(subscribers))
        .where(
            subscriptions.c.source_site_id == site_id,
            subscriptions.c.status == SubscriptionStatus.CONFIRMED,
        )
        .group_by(subscribers.c.municipality),
    )


@dataclass(frozen=True, slots=True)
class MonthMunicipalityCount:
    """Residents who asked to sign up through a site in one UTC month, from one municipality."""

    month: str
    municipality: str | None
    residents: int


async def site_signups_by_month(
    session: AsyncSession, site_id: int, since: datetime
) -> list[MonthMunicipalityCount]:
    """Residents signing up through a site per UTC month since ``since`` (any status), by
    municipality; a resident signing up to two lists in one month counts once."""
    month = _utc_month(session, subscriptions.c.requested_at)
    result = await session.execute(
        sa.select(month, subscribers.c.municipality, _distinct(subscriptions.c.subscriber_id))
        .select_from(subscriptions.join(subscribers))
        .where(subscriptions.c.source_site_id == site_id, subscriptions.c.requested_at >= since)
        .group_by(month, subscribers.c.municipality)
        .order_by(month)
    )
    return [
        MonthMunicipalityCount(str(month_text), value, int(number))
        for month_text, value, number in result.all()
    ]


async def campaign_recipients_by_municipality(
    session: AsyncSession, campaign_id: int
) -> MunicipalityCounts:
    """Residents the relay accepted a campaign's mail for, by municipality (an erased resident
    counts as not said)."""
    return await _counts(
        session,
        sa.select(subscribers.c.municipality, sa.func.count())
        .select_from(
            deliveries.outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        )
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == DeliveryStatus.SENT)
        .group_by(subscribers.c.municipality),
    )


async def campaign_clickers_by_municipality(
    session: AsyncSession, campaign_id: int
) -> MunicipalityCounts:
    """Residents who clicked at least one of a campaign's tracked links, by municipality."""
    return await _counts(
        session,
        sa.select(subscribers.c.municipality, _distinct(link_clicks.c.subscriber_id))
        .select_from(
            link_clicks.outerjoin(subscribers, subscribers.c.id == link_clicks.c.subscriber_id)
        )
        .where(link_clicks.c.campaign_id == campaign_id)
        .group_by(subscribers.c.municipality),
    )


async def campaign_unsubscribe_refs(session: AsyncSession, campaign_id: int) -> set[str]:
    """Address digests of residents who unsubscribed through a link in this campaign's mail
    (the subscriptions service's audit log names the campaign)."""
    result = await session.execute(
        sa.select(audit_log.c.subscriber_ref)
        .distinct()
        .where(
            audit_log.c.action == "unsubscribed",
            audit_log.c.details["campaign_id"].as_integer() == campaign_id,
            audit_log.c.subscriber_ref.is_not(None),
        )
    )
    return {str(ref) for ref in result.scalars()}


@dataclass(frozen=True, slots=True)
class RecipientPlace:
    """One recipient of a campaign: the ledger row's id (to page on), address and municipality."""

    delivery_id: int
    email: str
    municipality: str | None


async def campaign_recipient_places(
    session: AsyncSession, campaign_id: int, after_id: int, limit: int
) -> Sequence[RecipientPlace]:
    """The next ``limit`` recipients of a campaign after ledger row ``after_id``, in id order."""
    result = await session.execute(
        sa.select(deliveries.c.id, subscribers.c.email, subscribers.c.municipality)
        .select_from(deliveries.join(subscribers, subscribers.c.id == deliveries.c.subscriber_id))
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.id > after_id)
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    return [RecipientPlace(int(row_id), str(email), value) for row_id, email, value in result.all()]
