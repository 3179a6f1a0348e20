"""Reading the campaign and its audience (tables of the campaigns and subscriptions services)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.mailer.campaign_types import CampaignSource, VariantSource
from shared.addresses import address_digest
from shared.schema import (
    campaign_lists,
    campaign_segments,
    campaign_test_subjects,
    campaign_variants,
    campaigns,
    digest_blocks,
    mailing_lists,
    segments,
    subscribers,
    subscriptions,
    suppressions,
)
from shared.segment_sql import CUSTOM_PLANS, Context, compile_group, eligible
from shared.segments import Group, from_builtins


async def get_campaign(conn: AsyncConnection, campaign_id: int) -> CampaignSource | None:
    """The campaign's content and its lists (slugs and ids), or None."""
    row = (
        (await conn.execute(sa.select(campaigns).where(campaigns.c.id == campaign_id)))
        .mappings()
        .first()
    )
    if row is None:
        return None
    lists = (
        await conn.execute(
            sa.select(mailing_lists.c.id, mailing_lists.c.slug)
            .join(campaign_lists, campaign_lists.c.list_id == mailing_lists.c.id)
            .where(campaign_lists.c.campaign_id == campaign_id)
            .order_by(mailing_lists.c.slug)
        )
    ).all()
    with_segments = await conn.scalar(
        sa.select(sa.exists().where(campaign_segments.c.campaign_id == campaign_id))
    )
    variants = (
        await conn.execute(
            sa.select(
                campaign_variants.c.language,
                campaign_variants.c.subject,
                campaign_variants.c.body,
                campaign_variants.c.body_text,
            )
            .where(campaign_variants.c.campaign_id == campaign_id)
            .order_by(campaign_variants.c.language)
        )
    ).all()
    digest = (
        await conn.execute(
            sa.select(
                digest_blocks.c.language,
                digest_blocks.c.municipality,
                digest_blocks.c.html,
                digest_blocks.c.text,
            ).where(digest_blocks.c.campaign_id == campaign_id)
        )
    ).all()
    test_subjects: tuple[str, ...] = ()
    if row["test_sample_percent"] is not None:
        others = await conn.execute(
            sa.select(campaign_test_subjects.c.subject)
            .where(campaign_test_subjects.c.campaign_id == campaign_id)
            .order_by(campaign_test_subjects.c.position)
        )
        test_subjects = (row["subject"], *(str(subject) for subject in others.scalars()))
    winner = row["test_winner"]
    return CampaignSource(
        id=int(row["id"]),
        subject=row["subject"],
        body=row["body"],
        body_text=row["body_text"],
        from_address=row["from_address"],
        list_slugs=tuple(str(item.slug) for item in lists),
        # The one-click unsubscribe leaves the lists named here. A segment's members may be on
        # none of the campaign's lists: with segments the link names none, which leaves every
        # list, so the link always takes the reader off the mailing.
        list_ids=() if with_segments else tuple(sorted(int(item.id) for item in lists)),
        updated_at=row["updated_at"],
        status=row["status"],
        layout=row["layout"],
        fallback_language=row["fallback_language"],
        variants=tuple(
            VariantSource(str(item.language), item.subject, item.body, item.body_text)
            for item in variants
        ),
        track_opens=bool(row["track_opens"]),
        archive_public=bool(row["archive_public"]),
        digest=tuple(
            (str(item.language), str(item.municipality), str(item.html), str(item.text))
            for item in digest
        ),
        test_subjects=test_subjects,
        test_sample_percent=row["test_sample_percent"],
        test_winner=None if winner is None else int(winner),
        test_decided_at=row["test_decided_at"],
    )


async def campaign_status(conn: AsyncConnection, campaign_id: int) -> str | None:
    """The campaign's status as staff last set it (None when it was deleted)."""
    result = await conn.execute(sa.select(campaigns.c.status).where(campaigns.c.id == campaign_id))
    status = result.scalar()
    return None if status is None else str(status)


async def campaign_list_ids(conn: AsyncConnection, campaign_id: int) -> list[int]:
    """Ids of the lists a campaign targets."""
    result = await conn.execute(
        sa.select(campaign_lists.c.list_id).where(campaign_lists.c.campaign_id == campaign_id)
    )
    return [int(value) for value in result.scalars().all()]


@dataclass(frozen=True, slots=True)
class Audience:
    """Whom a campaign goes to: confirmed members of its lists and members of its segments."""

    list_ids: tuple[int, ...]
    segments: tuple[Group, ...] = ()

    def condition(self, context: Context) -> sa.ColumnElement[bool]:
        """Whether a subscriber is in the audience now (correlated on subscribers)."""
        parts: list[sa.ColumnElement[bool]] = [compile_group(g, context) for g in self.segments]
        if self.list_ids:
            parts.insert(0, member_of(self.list_ids))
        return sa.and_(eligible(), sa.or_(sa.false(), *parts))


async def campaign_audience(conn: AsyncConnection, campaign_id: int) -> Audience:
    """The campaign's lists and the rules of its saved segments, as they are now."""
    rules = await conn.execute(
        sa.select(segments.c.rules)
        .join(campaign_segments, campaign_segments.c.segment_id == segments.c.id)
        .where(campaign_segments.c.campaign_id == campaign_id)
        .order_by(segments.c.id)
    )
    return Audience(
        list_ids=tuple(sorted(await campaign_list_ids(conn, campaign_id))),
        segments=tuple(from_builtins(value) for value in rules.scalars()),
    )


def member_of(list_ids: Sequence[int]) -> sa.Exists:
    """Still confirmed in at least one of the campaign's lists (correlated on subscribers)."""
    # Still confirmed in at least one of the campaign's lists.
    return (
        sa.exists()
        .where(subscriptions.c.subscriber_id == subscribers.c.id)
        .where(subscriptions.c.list_id.in_(list_ids))
        .where(subscriptions.c.status == "confirmed")
    )


def fanout_condition(
    audience: Audience, context: Context, window: tuple[int, int]
) -> sa.ColumnElement[bool]:
    """Whom fan-out writes a row for in a window of subscriber ids (correlated on
    subscribers): for lists alone, active subscribers confirmed on one of them (whoever
    bounced is skipped at send time); with segments, the audience's whole condition."""
    if audience.segments:
        return audience.condition(context)
    # The window again inside: without it PostgreSQL hashed every confirmed subscription of
    # the lists for each window (a scan of them all, 50 times for 1M subscribers).
    first, last = window
    confirmed = member_of(audience.list_ids).where(
        subscriptions.c.subscriber_id > first, subscriptions.c.subscriber_id <= last
    )
    return sa.and_(subscribers.c.status == "active", confirmed)


async def plan_for_values(conn: AsyncConnection) -> None:
    """On PostgreSQL, plan the transaction's statements for their values (CUSTOM_PLANS): the
    fan-out runs one statement per window, with a compiled segment in it."""
    if conn.dialect.name == "postgresql":
        await conn.execute(CUSTOM_PLANS)


async def next_subscriber(conn: AsyncConnection, after_id: int) -> int | None:
    """The lowest subscriber id above ``after_id``, None when there is none."""
    result = await conn.execute(
        sa.select(sa.func.min(subscribers.c.id)).where(subscribers.c.id > after_id)
    )
    value = result.scalar()
    return None if value is None else int(value)


async def audience_ids(
    conn: AsyncConnection, in_audience: sa.ColumnElement[bool], window: tuple[int, int]
) -> list[int]:
    """Ids of the audience's subscribers in ``window`` (above the first, up to the last)."""
    first, last = window
    result = await conn.execute(
        sa.select(subscribers.c.id)
        .where(subscribers.c.id > first, subscribers.c.id <= last, in_audience)
        .order_by(subscribers.c.id)
    )
    return [int(value) for value in result.scalars()]


async def suppressed_addresses(conn: AsyncConnection, addresses: Collection[str]) -> set[str]:
    """Those of ``addresses`` whose mailbox was erased (its digest is on the suppression list).

    The digest is of the address's identity, so an erasure under any spelling counts.
    """
    digests = {address_digest(address): address for address in addresses if address}
    if not digests:
        return set()
    result = await conn.execute(
        sa.select(suppressions.c.email_hash).where(suppressions.c.email_hash.in_(list(digests)))
    )
    return {digests[digest] for digest in result.scalars()}
