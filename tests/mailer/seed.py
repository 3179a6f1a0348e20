"""Rows the mailer reads, written straight into the other services' tables for tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from shared.addresses import address_digest
from shared.db import create_engine
from shared.schema import (
    campaign_lists,
    campaigns,
    deliveries,
    mailing_lists,
    subscribers,
    subscriptions,
    suppressions,
)
from tests.support.eligibility import recount_confirmed_lists

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    """A subscriber to seed: lists maps list slug -> subscription status."""

    email: str
    name: str | None
    language: str
    lists: dict[str, str]
    status: str = "active"


async def seed(
    database_url: str,
    people: list[Person],
    *,
    subject: str = "Nyt fra {{ subscriber.name }}",
    body: str = "<p>Hej {{ subscriber.name }}</p>",
    body_text: str | None = None,
    campaign_lists_: tuple[str, ...] = ("kultur", "idraet"),
    slugs: tuple[str, ...] = ("kultur", "idraet", "musik"),
) -> tuple[int, dict[str, int]]:
    """Insert lists, subscribers, subscriptions and one campaign; return its id and ids by email."""
    engine = create_engine(database_url)
    ids: dict[str, int] = {}
    async with engine.begin() as conn:
        list_ids: dict[str, int] = {}
        for slug in slugs:
            result = await conn.execute(
                sa.insert(mailing_lists).values(
                    slug=slug, name_da=slug, name_sv=slug, name_en=slug, created_at=NOW
                )
            )
            list_ids[slug] = int(result.inserted_primary_key[0])
        for number, person in enumerate(people):
            result = await conn.execute(
                sa.insert(subscribers).values(
                    key=f"key{number:04d}",
                    email=person.email,
                    name=person.name,
                    language=person.language,
                    status=person.status,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            subscriber_id = int(result.inserted_primary_key[0])
            ids[person.email] = subscriber_id
            for slug, status in person.lists.items():
                await conn.execute(
                    sa.insert(subscriptions).values(
                        subscriber_id=subscriber_id,
                        list_id=list_ids[slug],
                        status=status,
                        requested_at=NOW,
                        confirmed_at=NOW if status == "confirmed" else None,
                    )
                )
        await conn.execute(recount_confirmed_lists())
        result = await conn.execute(
            sa.insert(campaigns).values(
                subject=subject,
                body=body,
                body_text=body_text,
                status="sending",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        campaign_id = int(result.inserted_primary_key[0])
        for slug in campaign_lists_:
            await conn.execute(
                sa.insert(campaign_lists).values(campaign_id=campaign_id, list_id=list_ids[slug])
            )
    await engine.dispose()
    return campaign_id, ids


async def set_subscription(database_url: str, subscriber_id: int, status: str) -> None:
    """Change every subscription of a subscriber (as an unsubscribe would)."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.subscriber_id == subscriber_id)
            .values(status=status)
        )
        await conn.execute(recount_confirmed_lists())
    await engine.dispose()


async def ledger(database_url: str, campaign_id: int) -> dict[int, dict[str, object]]:
    """The campaign's deliveries rows by subscriber id."""
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    sa.select(deliveries).where(deliveries.c.campaign_id == campaign_id)
                )
            )
            .mappings()
            .all()
        )
    await engine.dispose()
    return {int(row["subscriber_id"]): dict(row) for row in rows}


async def fetch(database_url: str, statement: sa.Select[object]) -> list[sa.RowMapping]:
    """Rows of any query."""
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        rows = list((await conn.execute(statement)).mappings().all())
    await engine.dispose()
    return rows


async def suppress(database_url: str, address: str) -> None:
    """Put an address's digest on the suppression list, as an erasure does."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(suppressions).values(
                email_hash=address_digest(address), reason="erasure", created_at=NOW
            )
        )
    await engine.dispose()
