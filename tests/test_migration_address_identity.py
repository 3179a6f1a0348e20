"""Revision 0007: spellings of one address that became several subscribers are merged into one."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from shared.addresses import ADDRESS_HASH_SALT, address_digest
from shared.db import create_engine
from shared.migrate import upgrade
from shared.schema import (
    audit_log,
    campaigns,
    consent_events,
    deliveries,
    mailing_lists,
    subscribers,
    subscriptions,
    suppressions,
)
from tests.conftest import POSTGRES_URL, WORKER

BEFORE = "0006_deliveries_subscriber"
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

# The subscribers table as revision 0006 left it (shared.schema already has email_key).
subscribers_0006 = sa.table(
    "subscribers",
    sa.column("id"),
    sa.column("key"),
    sa.column("email"),
    sa.column("name"),
    sa.column("language"),
    sa.column("status"),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("municipality"),
    sa.column("custom_values", sa.JSON()),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0006(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database migrated only as far as revision 0006."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        upgrade(url, BEFORE)
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: set BREVDUE_TEST_DATABASE_URL to run")
    base = make_url(POSTGRES_URL)
    url = base.set(database=f"{base.database}_w{WORKER}_0006").render_as_string(hide_password=False)

    async def reset() -> None:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            name = make_url(url).database
            exists = await conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())
    upgrade(url, BEFORE)
    yield url


def _legacy_digest(address: str) -> str:
    """The digest written before identity keys: of the lower-cased address."""
    return hashlib.sha256((ADDRESS_HASH_SALT + address.lower()).encode()).hexdigest()


async def _seed(url: str) -> dict[str, int]:
    """Two spellings of one mailbox, one of an address erased under another spelling, one
    ordinary subscriber; their lists, consent records, ledger rows and audit trail."""
    engine = create_engine(url)
    ids: dict[str, int] = {}
    async with engine.begin() as conn:
        for slug in ("a", "b", "c", "d"):
            ids[slug] = (
                await conn.execute(
                    sa.insert(mailing_lists)
                    .values(slug=slug, name_da=slug, name_sv=slug, name_en=slug, created_at=T0)
                    .returning(mailing_lists.c.id)
                )
            ).scalar_one()
        for number in (1, 2):
            ids[f"campaign{number}"] = (
                await conn.execute(
                    sa.insert(campaigns)
                    .values(subject="s", body="b", status="sent", created_at=T0, updated_at=T0)
                    .returning(campaigns.c.id)
                )
            ).scalar_one()
        people: list[dict[str, Any]] = [
            {"email": "Case.Test@example.dk", "name": "Case", "at": T0, "custom": {"a": "1"}},
            {
                "email": "case.test@example.dk",
                "name": None,
                "at": T0 + timedelta(days=1),
                "municipality": "dk-koebenhavn",
                "custom": {"a": "2", "b": "3"},
            },
            {"email": "Erased.Once@example.org", "name": "E", "at": T0},
            {"email": "solo@example.org", "name": "Solo", "at": T0},
        ]
        for number, person in enumerate(people):
            ids[person["email"]] = (
                await conn.execute(
                    sa.insert(subscribers_0006)
                    .values(
                        key=f"{number:032d}",
                        email=person["email"],
                        name=person["name"],
                        language="da",
                        status="active",
                        created_at=person["at"],
                        updated_at=person["at"],
                        municipality=person.get("municipality"),
                        custom_values=person.get("custom"),
                    )
                    .returning(subscribers_0006.c.id)
                )
            ).scalar_one()
        upper, lower = ids["Case.Test@example.dk"], ids["case.test@example.dk"]
        day = timedelta(days=1)
        rows = [
            # list a: both confirmed; the earlier consent is kept.
            (upper, "a", "confirmed", T0, T0, None),
            (lower, "a", "confirmed", T0 + day, T0 + day, None),
            # list b: pending under one spelling, confirmed under the other.
            (upper, "b", "pending", T0, None, None),
            (lower, "b", "confirmed", T0 + day, T0 + day, None),
            # list c: confirmed, then unsubscribed later under the other spelling.
            (upper, "c", "confirmed", T0, T0, None),
            (lower, "c", "unsubscribed", T0 + day, T0 + day, T0 + 2 * day),
            # list d: only under the later spelling.
            (lower, "d", "confirmed", T0 + day, T0 + day, None),
            (ids["Erased.Once@example.org"], "a", "confirmed", T0, T0, None),
            (ids["solo@example.org"], "a", "confirmed", T0, T0, None),
        ]
        for subscriber_id, slug, status, requested, confirmed, unsubscribed in rows:
            await conn.execute(
                sa.insert(subscriptions).values(
                    subscriber_id=subscriber_id,
                    list_id=ids[slug],
                    status=status,
                    requested_at=requested,
                    confirmed_at=confirmed,
                    unsubscribed_at=unsubscribed,
                )
            )
            await conn.execute(
                sa.insert(consent_events).values(
                    subscriber_id=subscriber_id,
                    list_id=ids[slug],
                    event="requested",
                    at=requested,
                    form="page",
                    language="da",
                )
            )
        for subscriber_id, campaign in ((upper, 1), (lower, 1), (lower, 2)):
            await conn.execute(
                sa.insert(deliveries).values(
                    campaign_id=ids[f"campaign{campaign}"],
                    subscriber_id=subscriber_id,
                    status="sent",
                    attempts=1,
                    message_id=f"<{subscriber_id}.{campaign}@example.org>",
                    queued_at=T0,
                    updated_at=T0,
                )
            )
        # The lower-case spelling was erased earlier under another spelling of the third address.
        await conn.execute(
            sa.insert(suppressions).values(
                email_hash=_legacy_digest("erased.once@example.org"),
                reason="erasure",
                created_at=T0,
            )
        )
        await conn.execute(
            sa.insert(audit_log).values(
                at=T0,
                actor="resident",
                action="preferences_changed",
                subscriber_ref=_legacy_digest("case.test@example.dk"),
                details={},
            )
        )
    await engine.dispose()
    return ids


async def _read(url: str, statement: sa.Select[Any]) -> list[dict[str, Any]]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        rows = [dict(row._mapping) for row in await conn.execute(statement)]
    await engine.dispose()
    return rows


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_spellings_of_one_address_are_merged_into_the_earliest_subscriber(
    database_at_0006: str,
) -> None:
    url = database_at_0006
    ids = asyncio.run(_seed(url))
    upper, lower = ids["Case.Test@example.dk"], ids["case.test@example.dk"]

    upgrade(url)

    people = asyncio.run(_read(url, sa.select(subscribers).order_by(subscribers.c.id)))
    assert [(p["id"], p["email"], p["email_key"]) for p in people] == [
        (upper, "Case.Test@example.dk", "case.test@example.dk"),
        (ids["solo@example.org"], "solo@example.org", "solo@example.org"),
    ]
    survivor = people[0]
    assert survivor["name"] == "Case"
    assert survivor["municipality"] == "dk-koebenhavn"
    assert _utc(survivor["created_at"]) == T0

    subs = asyncio.run(
        _read(url, sa.select(subscriptions).where(subscriptions.c.subscriber_id == upper))
    )
    by_list = {row["list_id"]: row for row in subs}
    assert {slug: by_list[ids[slug]]["status"] for slug in "abcd"} == {
        "a": "confirmed",
        "b": "confirmed",
        "c": "unsubscribed",
        "d": "confirmed",
    }
    assert _utc(by_list[ids["a"]]["confirmed_at"]) == T0  # the earliest consent

    events = asyncio.run(_read(url, sa.select(consent_events)))
    assert sorted(e["subscriber_id"] for e in events) == [upper] * 7 + [ids["solo@example.org"]]

    ledger = asyncio.run(_read(url, sa.select(deliveries).order_by(deliveries.c.id)))
    assert [(row["campaign_id"], row["subscriber_id"]) for row in ledger] == [
        (ids["campaign1"], upper),
        (ids["campaign1"], lower),  # the survivor has its own row: this one leads to nobody
        (ids["campaign2"], upper),
    ]

    trail = asyncio.run(_read(url, sa.select(audit_log).order_by(audit_log.c.id)))
    digest = address_digest("Case.Test@example.dk")
    assert digest == _legacy_digest("case.test@example.dk")  # old digests keep matching
    assert [(e["action"], e["subscriber_ref"]) for e in trail] == [
        ("preferences_changed", digest),
        ("merged", digest),
        ("erased", address_digest("erased.once@example.org")),
    ]

    async def insert_other_spelling() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    sa.insert(subscribers_0006).values(
                        key="x" * 32,
                        email="CASE.TEST@example.dk",
                        language="da",
                        status="active",
                        created_at=T0,
                        updated_at=T0,
                    )
                )
        finally:
            await engine.dispose()

    # The bare 0006 table shape has no email_key: the column is now required.
    with pytest.raises(IntegrityError):
        asyncio.run(insert_other_spelling())
