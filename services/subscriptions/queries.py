"""Every SQL statement of the subscriptions service (SQLAlchemy Core over shared.schema)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.addresses import address_identity
from shared.schema import (
    audit_log,
    consent_events,
    custom_fields,
    deliveries,
    mailing_lists,
    member_sites,
    subscribers,
    subscriptions,
    suppressions,
)

PENDING = "pending"
CONFIRMED = "confirmed"
UNSUBSCRIBED = "unsubscribed"
ACTIVE = "active"
BOUNCED = "bounced"  # the address bounced hard: no mail of any kind goes to it


class ListRow(NamedTuple):
    """A mailing list as the sign-up pages need it."""

    id: int
    slug: str
    name_da: str
    name_sv: str
    name_en: str
    double_optin: bool = True


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
    mailing_lists.c.double_optin,
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


async def _one_subscriber(
    session: AsyncSession, condition: sa.ColumnElement[bool]
) -> SubscriberRow | None:
    row = (await session.execute(sa.select(*_SUBSCRIBER_COLUMNS).where(condition))).first()
    return SubscriberRow(*row) if row else None


async def get_subscriber_by_email(session: AsyncSession, email: str) -> SubscriberRow | None:
    """The subscriber with this address, whatever its spelling (by identity key)."""
    return await _one_subscriber(session, subscribers.c.email_key == address_identity(email))


async def get_subscriber_by_key(session: AsyncSession, key: str) -> SubscriberRow | None:
    """The subscriber with this opaque key."""
    return await _one_subscriber(session, subscribers.c.key == key)


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
) -> SubscriberRow:
    """Insert an active subscriber; a concurrent insert of any spelling of the address raises
    IntegrityError."""
    query = (
        sa.insert(subscribers)
        .values(
            key=key,
            email=email,
            email_key=address_identity(email),
            name=name,
            language=language,
            status=ACTIVE,
            source_site_id=source_site_id,
            custom_values=custom_values,
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


async def touch_subscriber(session: AsyncSession, subscriber_id: int, now: datetime) -> None:
    """Record that a subscriber's subscriptions changed."""
    await session.execute(
        sa.update(subscribers).where(subscribers.c.id == subscriber_id).values(updated_at=now)
    )


async def ping_database(engine: AsyncEngine) -> None:
    """Run ``SELECT 1``; raise when the database does not answer."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))


# --- member sites and the lists their forms offer (read-only: both tables belong to campaigns)


class SiteRow(NamedTuple):
    """A member site as the public side needs it: origins, defaults, proof-of-work flag."""

    id: int
    key: str
    name: str
    allowed_origins: list[str]
    default_lists: list[str]
    default_language: str
    thank_you_url: str | None
    require_proof_of_work: bool


class ListTextRow(NamedTuple):
    """A public list with its names and descriptions in every language."""

    slug: str
    name_da: str
    name_sv: str
    name_en: str
    description_da: str
    description_sv: str
    description_en: str


async def get_site_by_key(session: AsyncSession, site_key: str) -> SiteRow | None:
    """The member site with this key, if there is one."""
    query = sa.select(
        member_sites.c.id,
        member_sites.c.key,
        member_sites.c.name,
        member_sites.c.allowed_origins,
        member_sites.c.default_lists,
        member_sites.c.default_language,
        member_sites.c.thank_you_url,
        member_sites.c.require_proof_of_work,
    ).where(member_sites.c.key == site_key)
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return SiteRow(
        id=int(row.id),
        key=str(row.key),
        name=str(row.name),
        allowed_origins=[str(o) for o in row.allowed_origins or [] if isinstance(o, str)],
        default_lists=[str(s) for s in row.default_lists or [] if isinstance(s, str)],
        default_language=str(row.default_language),
        thank_you_url=row.thank_you_url,
        require_proof_of_work=bool(row.require_proof_of_work),
    )


async def get_all_allowed_origins(session: AsyncSession) -> set[str]:
    """Every origin any member site allows (for preflights that do not name a site)."""
    origins: set[str] = set()
    for (values,) in await session.execute(sa.select(member_sites.c.allowed_origins)):
        origins.update(str(value) for value in values or [] if isinstance(value, str))
    return origins


async def any_site_requires_proof_of_work(session: AsyncSession) -> bool:
    """Whether at least one member site asks its sign-ups for a proof of work."""
    query = sa.select(member_sites.c.id).where(member_sites.c.require_proof_of_work).limit(1)
    return (await session.execute(query)).first() is not None


async def get_public_list_texts(session: AsyncSession) -> list[ListTextRow]:
    """Every public list with names and descriptions, in slug order."""
    query = (
        sa.select(
            mailing_lists.c.slug,
            mailing_lists.c.name_da,
            mailing_lists.c.name_sv,
            mailing_lists.c.name_en,
            mailing_lists.c.description_da,
            mailing_lists.c.description_sv,
            mailing_lists.c.description_en,
        )
        .where(mailing_lists.c.is_public.is_(True))
        .order_by(mailing_lists.c.slug)
    )
    return [ListTextRow(*row) for row in await session.execute(query)]


# --- residents' control: preferences, consent records, export, erasure, audit -------------


class ProfileRow(NamedTuple):
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


class PreferenceListRow(NamedTuple):
    """A list on the preference page, with the subscriber's status on it (None: not on it)."""

    id: int
    slug: str
    name_da: str
    name_sv: str
    name_en: str
    description_da: str
    description_sv: str
    description_en: str
    is_public: bool
    double_optin: bool
    status: str | None


class ConsentEvent(NamedTuple):
    """One consent record, as written and as exported."""

    list_id: int
    event: str
    at: datetime
    source_site_id: int | None
    form: str
    consent_text_version: str | None
    language: str
    ip: str | None


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


async def get_preference_lists(
    session: AsyncSession, subscriber_id: int
) -> list[PreferenceListRow]:
    """Public lists, plus private ones the subscriber is on (pending or confirmed), by slug."""
    joined = mailing_lists.outerjoin(
        subscriptions,
        sa.and_(
            subscriptions.c.list_id == mailing_lists.c.id,
            subscriptions.c.subscriber_id == subscriber_id,
        ),
    )
    query = (
        sa.select(
            mailing_lists.c.id,
            mailing_lists.c.slug,
            mailing_lists.c.name_da,
            mailing_lists.c.name_sv,
            mailing_lists.c.name_en,
            mailing_lists.c.description_da,
            mailing_lists.c.description_sv,
            mailing_lists.c.description_en,
            mailing_lists.c.is_public,
            mailing_lists.c.double_optin,
            subscriptions.c.status,
        )
        .select_from(joined)
        .where(
            sa.or_(
                mailing_lists.c.is_public.is_(True),
                subscriptions.c.status.in_([PENDING, CONFIRMED]),
            )
        )
        .order_by(mailing_lists.c.slug)
    )
    return [PreferenceListRow(*row) for row in await session.execute(query)]


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


async def leave_lists(
    session: AsyncSession, subscriber_id: int, list_ids: Collection[int] | None, now: datetime
) -> list[int]:
    """Unsubscribe from ``list_ids`` (None: every list); return the ids this statement changed.

    Only rows changed here are returned, so a withdrawal is recorded once, for exactly the
    subscriptions it ended, however many requests race.
    """
    if list_ids is not None and not list_ids:
        return []
    conditions = [
        subscriptions.c.subscriber_id == subscriber_id,
        subscriptions.c.status != UNSUBSCRIBED,
    ]
    if list_ids is not None:
        conditions.append(subscriptions.c.list_id.in_(list(list_ids)))
    result = await session.execute(
        sa.update(subscriptions)
        .where(*conditions)
        .values(status=UNSUBSCRIBED, unsubscribed_at=now)
        .returning(subscriptions.c.list_id)
    )
    return sorted(int(list_id) for list_id in result.scalars())


async def get_subscriptions_of(session: AsyncSession, subscriber_id: int) -> list[dict[str, Any]]:
    """A subscriber's subscriptions with list slugs and timestamps, for an export."""
    query = (
        sa.select(
            mailing_lists.c.slug.label("list"),
            subscriptions.c.status,
            subscriptions.c.requested_at,
            subscriptions.c.confirmed_at,
            subscriptions.c.unsubscribed_at,
            member_sites.c.key.label("source_site"),
        )
        .select_from(
            subscriptions.join(
                mailing_lists, mailing_lists.c.id == subscriptions.c.list_id
            ).outerjoin(member_sites, member_sites.c.id == subscriptions.c.source_site_id)
        )
        .where(subscriptions.c.subscriber_id == subscriber_id)
        .order_by(mailing_lists.c.slug)
    )
    return [dict(row._mapping) for row in await session.execute(query)]


async def insert_consent_events(
    session: AsyncSession, subscriber_id: int, events: Sequence[ConsentEvent]
) -> None:
    """Append consent records."""
    if not events:
        return
    rows = [{"subscriber_id": subscriber_id, **event._asdict()} for event in events]
    await session.execute(sa.insert(consent_events), rows)


async def get_consent_events_of(session: AsyncSession, subscriber_id: int) -> list[dict[str, Any]]:
    """A subscriber's consent records, oldest first, with list slugs and site keys."""
    query = (
        sa.select(
            mailing_lists.c.slug.label("list"),
            consent_events.c.event,
            consent_events.c.at,
            member_sites.c.key.label("source_site"),
            consent_events.c.form,
            consent_events.c.consent_text_version,
            consent_events.c.language,
            consent_events.c.ip,
        )
        .select_from(
            consent_events.join(
                mailing_lists, mailing_lists.c.id == consent_events.c.list_id
            ).outerjoin(member_sites, member_sites.c.id == consent_events.c.source_site_id)
        )
        .where(consent_events.c.subscriber_id == subscriber_id)
        .order_by(consent_events.c.at, consent_events.c.id)
    )
    return [dict(row._mapping) for row in await session.execute(query)]


async def get_deliveries_of(session: AsyncSession, subscriber_id: int) -> list[dict[str, Any]]:
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
    return [dict(row._mapping) for row in await session.execute(query)]


async def get_site_key(session: AsyncSession, site_id: int) -> str | None:
    """The key of a member site by id."""
    query = sa.select(member_sites.c.key).where(member_sites.c.id == site_id)
    value = (await session.execute(query)).scalar_one_or_none()
    return str(value) if value is not None else None


async def get_public_custom_fields(session: AsyncSession) -> list[dict[str, Any]]:
    """Custom field definitions staff allow on public forms, oldest first."""
    query = (
        sa.select(custom_fields)
        .where(custom_fields.c.public.is_(True))
        .order_by(custom_fields.c.created_at, custom_fields.c.id)
    )
    return [dict(row._mapping) for row in await session.execute(query)]


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


async def is_suppressed(session: AsyncSession, email_hash: str) -> bool:
    """True when an erased address with this digest must not be signed up again."""
    query = sa.select(suppressions.c.email_hash).where(suppressions.c.email_hash == email_hash)
    return (await session.execute(query)).first() is not None


async def insert_suppression(
    session: AsyncSession, email_hash: str, reason: str, now: datetime
) -> None:
    """Keep an address digest on the suppression list (once)."""
    if await is_suppressed(session, email_hash):
        return
    await session.execute(
        sa.insert(suppressions).values(email_hash=email_hash, reason=reason, created_at=now)
    )


async def insert_audit_entry(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    subscriber_ref: str | None,
    details: dict[str, Any],
) -> None:
    """Append one audit log entry."""
    await session.execute(
        sa.insert(audit_log).values(
            at=at, actor=actor, action=action, subscriber_ref=subscriber_ref, details=details
        )
    )


async def get_audit_entries(session: AsyncSession, subscriber_ref: str) -> list[dict[str, Any]]:
    """Audit entries about one address digest, oldest first."""
    query = (
        sa.select(audit_log.c.at, audit_log.c.actor, audit_log.c.action, audit_log.c.details)
        .where(audit_log.c.subscriber_ref == subscriber_ref)
        .order_by(audit_log.c.at, audit_log.c.id)
    )
    return [dict(row._mapping) for row in await session.execute(query)]


async def get_latest_requests(
    session: AsyncSession, subscriber_id: int, list_ids: Collection[int]
) -> dict[int, ConsentEvent]:
    """The most recent ``requested`` consent event per list among ``list_ids``."""
    query = (
        sa.select(
            consent_events.c.list_id,
            consent_events.c.event,
            consent_events.c.at,
            consent_events.c.source_site_id,
            consent_events.c.form,
            consent_events.c.consent_text_version,
            consent_events.c.language,
            consent_events.c.ip,
        )
        .where(
            consent_events.c.subscriber_id == subscriber_id,
            consent_events.c.list_id.in_(list(list_ids)),
            consent_events.c.event == "requested",
        )
        .order_by(consent_events.c.at, consent_events.c.id)
    )
    # Ordered oldest first, so later rows overwrite earlier ones.
    return {int(row.list_id): ConsentEvent(*row) for row in await session.execute(query)}


# --- confirmation without a link, welcome texts, and the purge of unconfirmed sign-ups ----


class WelcomeRow(NamedTuple):
    """A list's welcome mail in one language, with the list's name in that language."""

    list_id: int
    list_name: str
    subject: str | None
    body: str | None


async def confirm_pending_lists(
    session: AsyncSession, subscriber_id: int, list_ids: Collection[int], now: datetime
) -> list[int]:
    """Confirm the still-pending subscriptions among ``list_ids``; return the ids changed.

    Only rows this statement changed are returned, so of two concurrent confirmations only
    one sees a list as newly confirmed.
    """
    if not list_ids:
        return []
    result = await session.execute(
        sa.update(subscriptions)
        .where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.list_id.in_(list(list_ids)),
            subscriptions.c.status == PENDING,
        )
        .values(status=CONFIRMED, confirmed_at=now)
        .returning(subscriptions.c.list_id)
    )
    return sorted(int(list_id) for list_id in result.scalars())


async def get_welcome_texts(
    session: AsyncSession, list_ids: Collection[int], language: str
) -> list[WelcomeRow]:
    """Each list's welcome subject and body in ``language`` (None where staff wrote none)."""
    if not list_ids:
        return []
    query = (
        sa.select(
            mailing_lists.c.id,
            mailing_lists.c[f"name_{language}"],
            mailing_lists.c[f"welcome_subject_{language}"],
            mailing_lists.c[f"welcome_body_{language}"],
        )
        .where(mailing_lists.c.id.in_(list(list_ids)))
        .order_by(mailing_lists.c.id)
    )
    return [WelcomeRow(*row) for row in await session.execute(query)]


async def find_stale_pending_subscribers(
    session: AsyncSession, requested_before: datetime, limit: int
) -> list[int]:
    """Up to ``limit`` subscribers with a pending subscription requested before the cut-off."""
    query = (
        sa.select(subscriptions.c.subscriber_id)
        .where(
            subscriptions.c.status == PENDING,
            subscriptions.c.requested_at < requested_before,
        )
        .group_by(subscriptions.c.subscriber_id)
        .order_by(subscriptions.c.subscriber_id)
        .limit(limit)
    )
    return [int(value) for value in (await session.execute(query)).scalars()]


async def delete_stale_pending(
    session: AsyncSession, subscriber_ids: Collection[int], requested_before: datetime
) -> int:
    """Delete these subscribers' pending subscriptions requested before the cut-off."""
    result = await session.execute(
        sa.delete(subscriptions).where(
            subscriptions.c.subscriber_id.in_(list(subscriber_ids)),
            subscriptions.c.status == PENDING,
            subscriptions.c.requested_at < requested_before,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_subscribers_without_subscriptions(
    session: AsyncSession, subscriber_ids: Collection[int], before: datetime
) -> int:
    """Delete those of these active subscribers that have no subscription left at all and
    have not changed since the cut-off (a sign-up in the meantime touches the row)."""
    if not subscriber_ids:
        return 0
    orphan = sa.and_(
        subscribers.c.id.in_(list(subscriber_ids)),
        subscribers.c.status == ACTIVE,
        subscribers.c.created_at < before,
        subscribers.c.updated_at < before,
        ~sa.exists().where(subscriptions.c.subscriber_id == subscribers.c.id),
    )
    # Their consent records are of requests never confirmed. Deleted explicitly rather than
    # relying on ON DELETE CASCADE being enforced everywhere.
    await session.execute(
        sa.delete(consent_events).where(
            consent_events.c.subscriber_id.in_(sa.select(subscribers.c.id).where(orphan))
        )
    )
    result = await session.execute(sa.delete(subscribers).where(orphan))
    return int(getattr(result, "rowcount", 0) or 0)


async def has_confirmed_subscription(session: AsyncSession, subscriber_id: int) -> bool:
    """Whether the subscriber is confirmed on any list (the address's owner has acted)."""
    query = sa.select(
        sa.exists().where(
            subscriptions.c.subscriber_id == subscriber_id,
            subscriptions.c.status == CONFIRMED,
        )
    )
    return bool(await session.scalar(query))
