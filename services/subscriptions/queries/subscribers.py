"""Subscriber rows: lookup, insertion, status, profile edits and erasure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.addresses import address_identity
from shared.schema import (
    consent_events,
    deliveries,
    subscribers,
    subscriptions,
    suppressions,
)
from shared.statuses import SubscriberStatus


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """The subscriber columns the domain functions read."""

    id: int
    key: str
    email: str
    name: str | None
    language: str
    status: str


_SUBSCRIBER_COLUMNS = (
    subscribers.c.id,
    subscribers.c.key,
    subscribers.c.email,
    subscribers.c.name,
    subscribers.c.language,
    subscribers.c.status,
)


async def _one_subscriber(
    session: AsyncSession, condition: sa.ColumnElement[bool]
) -> SubscriberRow | None:
    row = (await session.execute(sa.select(*_SUBSCRIBER_COLUMNS).where(condition))).first()
    return SubscriberRow(*row) if row else None


async def get_subscriber_by_email(session: AsyncSession, email: str) -> SubscriberRow | None:
    """The subscriber with this address, whatever its spelling (by identity key)."""
    return await _one_subscriber(session, subscribers.c.email_key == address_identity(email))


# Built once: a sign-up runs these on every request, and building a statement costs more CPU
# than SQLAlchemy's cached compilation of it.
_SIGNUP_ADDRESS = sa.select(
    sa.exists().where(suppressions.c.email_hash == sa.bindparam("email_hash")).label("suppressed"),
    *_SUBSCRIBER_COLUMNS,
).select_from(
    # One row whether or not the address is known.
    sa.select(sa.literal(1).label("one"))
    .subquery("probe")
    .outerjoin(subscribers, subscribers.c.email_key == sa.bindparam("email_key"))
)


async def get_signup_address(
    session: AsyncSession, email: str, email_hash: str
) -> tuple[bool, SubscriberRow | None]:
    """For a sign-up, in one statement: whether the address was erased and must not be signed
    up again (by the digest on the suppression list), and its subscriber, if any."""
    params = {"email_hash": email_hash, "email_key": address_identity(email)}
    row = (await session.execute(_SIGNUP_ADDRESS, params)).one()
    found = SubscriberRow(*row[1:]) if row[1] is not None else None
    return bool(row[0]), found


_SUBSCRIBER_BY_KEY = sa.select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.key == sa.bindparam("key"))


async def get_subscriber_by_key(session: AsyncSession, key: str) -> SubscriberRow | None:
    """The subscriber with this opaque key."""
    # Built once: every link a resident follows starts here.
    row = (await session.execute(_SUBSCRIBER_BY_KEY, {"key": key})).first()
    return SubscriberRow(*row) if row else None


async def get_subscriber_by_id(session: AsyncSession, subscriber_id: int) -> SubscriberRow | None:
    """The subscriber with this row id (jobs from other services name subscribers by id)."""
    return await _one_subscriber(session, subscribers.c.id == subscriber_id)


async def change_subscriber_status(
    session: AsyncSession, subscriber_id: int, *, old: str, new: str, now: datetime
) -> bool:
    """Move a subscriber from status ``old`` to ``new``; True if this call changed it."""
    result = await session.execute(
        sa.update(subscribers)
        .where(subscribers.c.id == subscriber_id, subscribers.c.status == old)
        .values(status=new, updated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


_INSERT_SUBSCRIBER = sa.insert(subscribers).returning(*_SUBSCRIBER_COLUMNS)  # values: given


async def insert_subscriber(
    session: AsyncSession,
    *,
    key: str,
    email: str,
    name: str | None,
    language: str,
    source_site_id: int | None,
    now: datetime,
    custom_values: dict[str, Any] | None = None,
    municipality: str | None = None,
) -> SubscriberRow:
    """Insert an active subscriber; a concurrent insert of any spelling of the address raises
    IntegrityError."""
    values = {
        "key": key,
        "email": email,
        "email_key": address_identity(email),
        "name": name,
        "language": language,
        "status": SubscriberStatus.ACTIVE,
        "source_site_id": source_site_id,
        "custom_values": custom_values,
        "municipality": municipality,
        "created_at": now,
        "updated_at": now,
    }
    return SubscriberRow(*(await session.execute(_INSERT_SUBSCRIBER, values)).one())


async def touch_subscriber(session: AsyncSession, subscriber_id: int, now: datetime) -> None:
    """Record that a subscriber's subscriptions changed."""
    await session.execute(
        sa.update(subscribers).where(subscribers.c.id == subscriber_id).values(updated_at=now)
    )


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """Everything stored in a subscriber row, for the preference page and exports."""

    id: int
    key: str
    email: str
    name: str | None
    language: str
    status: str
    municipality: str | None
    custom_values: dict[str, Any] | None
    source_site_id: int | None
    created_at: datetime
    updated_at: datetime


_PROFILE_COLUMNS = (
    subscribers.c.id,
    subscribers.c.key,
    subscribers.c.email,
    subscribers.c.name,
    subscribers.c.language,
    subscribers.c.status,
    subscribers.c.municipality,
    subscribers.c.custom_values,
    subscribers.c.source_site_id,
    subscribers.c.created_at,
    subscribers.c.updated_at,
)


async def _one_profile(
    session: AsyncSession, condition: sa.ColumnElement[bool]
) -> ProfileRow | None:
    row = (await session.execute(sa.select(*_PROFILE_COLUMNS).where(condition))).first()
    return ProfileRow(*row) if row else None


async def get_profile_by_key(session: AsyncSession, key: str) -> ProfileRow | None:
    """The whole subscriber row with this opaque key."""
    return await _one_profile(session, subscribers.c.key == key)


async def get_profile_by_email(session: AsyncSession, email: str) -> ProfileRow | None:
    """The whole subscriber row with this address, whatever its spelling (by identity key)."""
    return await _one_profile(session, subscribers.c.email_key == address_identity(email))


async def update_profile(
    session: AsyncSession,
    subscriber_id: int,
    *,
    name: str | None,
    language: str,
    municipality: str | None,
    custom_values: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Store the attributes a resident edits on the preference page."""
    await session.execute(
        sa.update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(
            name=name,
            language=language,
            municipality=municipality,
            custom_values=custom_values,
            updated_at=now,
        )
    )


async def delete_subscriber(session: AsyncSession, subscriber_id: int) -> None:
    """Delete a subscriber with their subscriptions and consent records."""
    # Explicit deletes rather than relying on ON DELETE CASCADE being enforced everywhere.
    await session.execute(
        sa.delete(consent_events).where(consent_events.c.subscriber_id == subscriber_id)
    )
    await session.execute(
        sa.delete(subscriptions).where(subscriptions.c.subscriber_id == subscriber_id)
    )
    await session.execute(sa.delete(subscribers).where(subscribers.c.id == subscriber_id))


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One row of the mailer's ledger about a subscriber: which campaign, how it went, when."""

    campaign_id: int
    status: str
    queued_at: datetime
    sent_at: datetime | None


async def get_deliveries_of(session: AsyncSession, subscriber_id: int) -> list[DeliveryRow]:
    """The mailer's ledger rows for a subscriber (read only), oldest first."""
    query = (
        sa.select(
            deliveries.c.campaign_id,
            deliveries.c.status,
            deliveries.c.queued_at,
            deliveries.c.sent_at,
        )
        .where(deliveries.c.subscriber_id == subscriber_id)
        .order_by(deliveries.c.queued_at, deliveries.c.id)
    )
    return [DeliveryRow(*row) for row in await session.execute(query)]
