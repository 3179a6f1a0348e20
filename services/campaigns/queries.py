"""Every SQL statement of the campaigns service (SQLAlchemy Core over shared.schema).

Functions take an open session and never commit: the domain function that calls them owns the
transaction. The mailer's tables (deliveries, campaign_runs) and the subscriptions service's
(subscriptions) are only read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.schema import (
    api_tokens,
    campaign_lists,
    campaign_runs,
    campaigns,
    custom_fields,
    deliveries,
    mailing_lists,
    member_sites,
    staff_users,
    subscribers,
    subscriptions,
)

# The largest id a BIGINT holds; larger numbers can only name rows that do not exist.
MAX_ID = 2**63 - 1


async def ping(session: AsyncSession) -> None:
    """Run ``SELECT 1``."""
    await session.execute(sa.select(1))


# --- api tokens -----------------------------------------------------------------------------


async def insert_token(session: AsyncSession, token_hash: str, role: str, label: str) -> int:
    """Store a token's hash; return its id."""
    result = await session.execute(
        sa.insert(api_tokens)
        .values(token_hash=token_hash, role=role, label=label, created_at=utcnow())
        .returning(api_tokens.c.id)
    )
    return int(result.scalar_one())


async def token_by_hash(session: AsyncSession, token_hash: str) -> RowMapping | None:
    """The token row with this hash, revoked or not."""
    result = await session.execute(
        sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash)
    )
    return result.mappings().first()


async def all_tokens(session: AsyncSession) -> Sequence[RowMapping]:
    """Every token row (hashes included), oldest first."""
    result = await session.execute(sa.select(api_tokens).order_by(api_tokens.c.id))
    return result.mappings().all()


async def revoke_token(
    session: AsyncSession, *, token_id: int | None, token_hash: str | None
) -> bool:
    """Mark one live token revoked, by id or by hash; False when none matched."""
    where = (
        api_tokens.c.id == token_id
        if token_id is not None
        else (api_tokens.c.token_hash == token_hash)
    )
    result = await session.execute(
        sa.update(api_tokens)
        .where(where, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return _rowcount(result) > 0


# --- mailing lists --------------------------------------------------------------------------


async def all_lists(session: AsyncSession) -> Sequence[RowMapping]:
    """Every mailing list, by slug."""
    result = await session.execute(sa.select(mailing_lists).order_by(mailing_lists.c.slug))
    return result.mappings().all()


async def list_by_slug(session: AsyncSession, slug: str) -> RowMapping | None:
    """The mailing list with this slug."""
    result = await session.execute(sa.select(mailing_lists).where(mailing_lists.c.slug == slug))
    return result.mappings().first()


async def insert_list(session: AsyncSession, values: Mapping[str, Any]) -> int:
    """Create a mailing list; return its id."""
    result = await session.execute(
        sa.insert(mailing_lists).values(**values, created_at=utcnow()).returning(mailing_lists.c.id)
    )
    return int(result.scalar_one())


async def update_list(session: AsyncSession, slug: str, values: Mapping[str, Any]) -> bool:
    """Change a mailing list; False when no list has this slug."""
    result = await session.execute(
        sa.update(mailing_lists).where(mailing_lists.c.slug == slug).values(**values)
    )
    return _rowcount(result) > 0


async def list_ids_by_slug(session: AsyncSession, slugs: Iterable[str]) -> dict[str, int]:
    """Map each existing slug among ``slugs`` to its list id."""
    result = await session.execute(
        sa.select(mailing_lists.c.slug, mailing_lists.c.id).where(
            mailing_lists.c.slug.in_(list(slugs))
        )
    )
    return {slug: int(list_id) for slug, list_id in result.all()}


# --- member sites and staff users -----------------------------------------------------------


async def site_exists(session: AsyncSession, key: str) -> bool:
    """True when a member site has this key."""
    result = await session.execute(sa.select(member_sites.c.id).where(member_sites.c.key == key))
    return result.first() is not None


async def all_sites(session: AsyncSession) -> Sequence[RowMapping]:
    """Every member site, by key."""
    result = await session.execute(sa.select(member_sites).order_by(member_sites.c.key))
    return result.mappings().all()


async def site_by_key(session: AsyncSession, key: str) -> RowMapping | None:
    """The member site with this key."""
    result = await session.execute(sa.select(member_sites).where(member_sites.c.key == key))
    return result.mappings().first()


async def insert_site(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Create a member site."""
    await session.execute(sa.insert(member_sites).values(**values, created_at=utcnow()))


async def update_site(session: AsyncSession, key: str, values: Mapping[str, Any]) -> bool:
    """Change a member site; False when no site has this key."""
    result = await session.execute(
        sa.update(member_sites).where(member_sites.c.key == key).values(**values)
    )
    return _rowcount(result) > 0


async def delete_site(session: AsyncSession, key: str) -> bool:
    """Remove a member site (sign-ups keep their rows, losing the link); False if none."""
    result = await session.execute(sa.delete(member_sites).where(member_sites.c.key == key))
    return _rowcount(result) > 0


async def public_lists_by_slug(session: AsyncSession, slugs: Iterable[str]) -> dict[str, bool]:
    """Map each existing slug among ``slugs`` to whether that list is public."""
    result = await session.execute(
        sa.select(mailing_lists.c.slug, mailing_lists.c.is_public).where(
            mailing_lists.c.slug.in_(list(slugs))
        )
    )
    return {slug: bool(is_public) for slug, is_public in result.all()}


async def staff_user_exists(session: AsyncSession, email: str) -> bool:
    """True when a staff user has this address."""
    result = await session.execute(sa.select(staff_users.c.id).where(staff_users.c.email == email))
    return result.first() is not None


async def insert_staff_user(session: AsyncSession, email: str, name: str, role: str) -> None:
    """Create a staff user."""
    await session.execute(
        sa.insert(staff_users).values(email=email, name=name, role=role, created_at=utcnow())
    )


# --- campaigns ------------------------------------------------------------------------------


async def insert_campaign(
    session: AsyncSession, values: Mapping[str, Any], list_ids: Iterable[int]
) -> int:
    """Create a draft campaign addressed to ``list_ids``; return its id."""
    now = utcnow()
    result = await session.execute(
        sa.insert(campaigns)
        .values(**values, status="draft", created_at=now, updated_at=now)
        .returning(campaigns.c.id)
    )
    campaign_id = int(result.scalar_one())
    await _set_campaign_lists(session, campaign_id, list_ids)
    return campaign_id


async def update_draft(
    session: AsyncSession,
    campaign_id: int,
    values: Mapping[str, Any],
    list_ids: Iterable[int] | None,
) -> bool:
    """Change a campaign only while it is a draft; False when it is not (or is gone)."""
    result = await session.execute(
        sa.update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status == "draft")
        .values(**values, updated_at=utcnow())
    )
    if _rowcount(result) == 0:
        return False
    if list_ids is not None:
        await session.execute(
            sa.delete(campaign_lists).where(campaign_lists.c.campaign_id == campaign_id)
        )
        await _set_campaign_lists(session, campaign_id, list_ids)
    return True


async def _set_campaign_lists(
    session: AsyncSession, campaign_id: int, list_ids: Iterable[int]
) -> None:
    rows = [{"campaign_id": campaign_id, "list_id": list_id} for list_id in list_ids]
    if rows:
        await session.execute(sa.insert(campaign_lists), rows)


async def mark_sending(session: AsyncSession, campaign_id: int, when: datetime) -> bool:
    """Move a draft to sending; the WHERE clause makes this the one gate against double sends."""
    result = await session.execute(
        sa.update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status == "draft")
        .values(status="sending", send_requested_at=when, updated_at=when)
    )
    return _rowcount(result) == 1


async def unmark_sending(session: AsyncSession, campaign_id: int, when: datetime) -> None:
    """Undo ``mark_sending`` of this request (matched by its time) when the job was not queued."""
    await session.execute(
        sa.update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status == "sending",
            campaigns.c.send_requested_at == when,
        )
        .values(status="draft", send_requested_at=None, updated_at=utcnow())
    )


async def campaign_by_id(session: AsyncSession, campaign_id: int) -> RowMapping | None:
    """One campaign row."""
    result = await session.execute(sa.select(campaigns).where(campaigns.c.id == campaign_id))
    return result.mappings().first()


async def campaign_page(session: AsyncSession, limit: int, offset: int) -> Sequence[RowMapping]:
    """A page of campaigns, newest first."""
    result = await session.execute(
        sa.select(campaigns)
        .order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return result.mappings().all()


async def count_campaigns(session: AsyncSession) -> int:
    """How many campaigns exist."""
    result = await session.execute(sa.select(sa.func.count()).select_from(campaigns))
    return int(result.scalar_one())


async def list_slugs_of(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, list[str]]:
    """The list slugs each campaign is addressed to, sorted."""
    result = await session.execute(
        sa.select(campaign_lists.c.campaign_id, mailing_lists.c.slug)
        .join(mailing_lists, mailing_lists.c.id == campaign_lists.c.list_id)
        .where(campaign_lists.c.campaign_id.in_(campaign_ids))
        .order_by(mailing_lists.c.slug)
    )
    slugs: dict[int, list[str]] = {campaign_id: [] for campaign_id in campaign_ids}
    for campaign_id, slug in result.all():
        slugs[int(campaign_id)].append(slug)
    return slugs


# --- custom subscriber fields --------------------------------------------------------------


async def all_fields(session: AsyncSession) -> Sequence[RowMapping]:
    """Every custom field definition, oldest first."""
    result = await session.execute(sa.select(custom_fields).order_by(custom_fields.c.id))
    return result.mappings().all()


async def field_by_key(session: AsyncSession, key: str) -> RowMapping | None:
    """The custom field with this key."""
    result = await session.execute(sa.select(custom_fields).where(custom_fields.c.key == key))
    return result.mappings().first()


async def insert_field(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Create a custom field definition."""
    now = utcnow()
    await session.execute(sa.insert(custom_fields).values(**values, created_at=now, updated_at=now))


async def update_field(session: AsyncSession, key: str, values: Mapping[str, Any]) -> bool:
    """Change a custom field definition; False when no field has this key."""
    result = await session.execute(
        sa.update(custom_fields)
        .where(custom_fields.c.key == key)
        .values(**values, updated_at=utcnow())
    )
    return _rowcount(result) > 0


async def delete_field(session: AsyncSession, key: str) -> bool:
    """Remove a custom field definition; False when none has this key."""
    result = await session.execute(sa.delete(custom_fields).where(custom_fields.c.key == key))
    return _rowcount(result) > 0


# --- the subscriptions service's tables (read only) -----------------------------------------


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


# --- the mailer's ledger (read only) --------------------------------------------------------


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


async def campaign_run_rows(
    session: AsyncSession, campaign_ids: Sequence[int]
) -> dict[int, RowMapping]:
    """The mailer's run row of each campaign that has one."""
    result = await session.execute(
        sa.select(campaign_runs).where(campaign_runs.c.campaign_id.in_(campaign_ids))
    )
    return {int(row["campaign_id"]): row for row in result.mappings().all()}


async def change_status(
    session: AsyncSession, campaign_id: int, from_statuses: Sequence[str], to: str, when: datetime
) -> bool:
    """Move a campaign between statuses; the WHERE clause makes concurrent requests take turns."""
    result = await session.execute(
        sa.update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status.in_(from_statuses))
        .values(status=to, updated_at=when)
    )
    return _rowcount(result) == 1


async def failed_deliveries(
    session: AsyncSession, campaign_id: int, limit: int, offset: int
) -> Sequence[RowMapping]:
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
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == "failed")
        .order_by(deliveries.c.id)
        .limit(limit)
        .offset(offset)
    )
    return result.mappings().all()


async def failed_summary(session: AsyncSession, campaign_id: int) -> tuple[int, datetime | None]:
    """How many of the campaign's rows failed, and when the latest of them changed."""
    result = await session.execute(
        sa.select(sa.func.count(), sa.func.max(deliveries.c.updated_at)).where(
            deliveries.c.campaign_id == campaign_id, deliveries.c.status == "failed"
        )
    )
    count, latest = result.one()
    return int(count), latest


def _rowcount(result: Any) -> int:
    # Result.rowcount exists on DML results only; the generic Result type does not declare it.
    return int(result.rowcount)
