"""The unsubscribe link on PostgreSQL runs one statement on the driver connection
(queries/link_withdrawal.py): the same rows, page and event as the session's path writes,
whether the link leaves its lists, every list, or nothing (again)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions import enrolment, unsubscribe
from services.subscriptions.audit import address_hash
from services.subscriptions.queries import SubscriberRow
from shared.clock import utcnow
from shared.db import create_sessionmaker
from shared.events import RESIDENT_EVENTS_STREAM, decode_resident_event
from shared.links import sign_unsubscribe
from shared.schema import audit_log, consent_events, subscribers, subscriptions
from shared.tokens import TokenSigner
from tests.subscriptions.residents import sign_up, table_rows

_OWN = {"id", "key", "email", "email_key", "subscriber_id", "subscriber_ref"}
_TIMES = {"created_at", "updated_at", "requested_at", "confirmed_at", "unsubscribed_at", "at"}


async def _rows_of(engine: AsyncEngine, subscriber: dict[str, Any]) -> dict[str, Any]:
    """Everything stored about one subscriber, without what differs between any two."""
    ref = address_hash(subscriber["email"])
    shapes: dict[str, Any] = {}
    for table in (subscribers, subscriptions, consent_events, audit_log):
        rows = [
            row
            for row in await table_rows(engine, table)
            if row.get("subscriber_id", row.get("id")) == subscriber["id"]
            or row.get("subscriber_ref") == ref
        ]
        if table is audit_log:
            rows = [row for row in rows if row["subscriber_ref"] == ref]
        shapes[table.name] = [
            {k: v for k, v in row.items() if k not in _OWN | _TIMES} for row in rows
        ]
    return shapes


async def _subscriber(engine: AsyncEngine, email: str) -> dict[str, Any]:
    return next(row for row in await table_rows(engine, subscribers) if row["email"] == email)


def _page(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    # The page links the subscriber's own preference center and carries the link's token.
    return re.sub(r"/(preferences|unsubscribe)/[^\s\"<]+", r"/\1/TOKEN", response.text)


@pytest.mark.parametrize("everything", [False, True])
async def test_the_link_writes_what_the_sessions_path_writes(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    lists: dict[str, int],
    redis: Redis,
    signer: TokenSigner,
    monkeypatch: pytest.MonkeyPatch,
    everything: bool,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement withdrawal is PostgreSQL's")
    names = ("driver@example.org", "session@example.org")
    for email in names:
        await sign_up(client, redis, email=email, lists=["kultur", "musik", "born"])
    people = [await _subscriber(engine, email) for email in names]
    before = {row["id"]: row["updated_at"] for row in people}
    pages = []
    for number, person in enumerate(people):
        if number == 1:
            monkeypatch.setattr(unsubscribe, "_withdraw_on_driver", _no_driver)
        token = sign_unsubscribe(signer, person["key"], 7, [lists["kultur"], lists["musik"]])
        path = f"/unsubscribe/{token}" + ("/all" if everything else "")
        body = {"List-Unsubscribe": "One-Click"}
        pages.append([_page(await client.post(path, data=body)) for _again in range(2)])
    assert pages[0] == pages[1]
    driver, session = [await _rows_of(engine, person) for person in people]
    assert driver == session
    left = 3 if everything else 2
    assert [row["event"] for row in driver["consent_events"]].count("withdrawn") == left
    assert driver["subscribers"][0]["confirmed_lists"] == 3 - left
    assert [entry["details"] for entry in driver["audit_log"]] == [
        {"via": "link", "lists": left, "campaign_id": 7}
    ]
    after = await _subscriber(engine, names[0])
    assert after["updated_at"] > before[after["id"]]
    statuses = [row for row in await table_rows(engine, subscriptions)]
    assert all(
        row["unsubscribed_at"] is not None for row in statuses if row["status"] != "confirmed"
    )

    events = [
        event
        for event in (
            decode_resident_event(fields)
            for _id, fields in await redis.xrange(RESIDENT_EVENTS_STREAM, "-", "+")
        )
        if event.type == "subscriber.unsubscribed"
    ]
    # The second request of each changed nothing and said nothing.
    assert [(event.subscriber_key, event.campaign_id) for event in events] == [
        (person["key"], 7) for person in people
    ]
    assert events[0].lists == events[1].lists
    assert len(events[0].lists) == left


async def _no_driver(*_args: Any) -> None:
    return None


async def test_a_link_of_an_unknown_subscriber_changes_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], signer: TokenSigner
) -> None:
    token = sign_unsubscribe(signer, "0" * 32, 7, [lists["kultur"]])
    response = await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert await table_rows(engine, consent_events) == []
    assert await table_rows(engine, audit_log) == []


async def test_the_count_is_right_when_a_confirmation_commits_during_the_withdrawal(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    lists: dict[str, int],
    redis: Redis,
    signer: TokenSigner,
) -> None:
    """A confirmation of another list holds the subscriber row (locked, counted, not yet
    committed) while the link's statement ends a subscription: the statement waits for the
    row and lowers the count the confirmation stored, so both changes are counted."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent transactions: PostgreSQL")
    await sign_up(client, redis, lists=["kultur", "musik"])
    await sign_up(client, redis, confirm=False, lists=["born"])
    person = await _subscriber(engine, "maja@example.org")
    member = SubscriberRow(
        person["id"], person["key"], person["email"], None, person["language"], "active"
    )
    token = sign_unsubscribe(signer, person["key"], 7, [lists["kultur"]])
    async with create_sessionmaker(engine)() as session, session.begin():
        confirmed = await enrolment.confirm(
            session, member, [lists["born"]], now=utcnow(), ip=None, record_ip=False
        )
        assert confirmed == [lists["born"]]
        leaving = asyncio.create_task(
            client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        )
        await _until_waiting_for_a_lock(engine)
        assert not leaving.done()
    assert (await leaving).status_code == 200
    statuses = {
        row["list_id"]: row["status"]
        for row in await table_rows(engine, subscriptions)
        if row["subscriber_id"] == person["id"]
    }
    assert statuses == {
        lists["kultur"]: "unsubscribed",
        lists["musik"]: "confirmed",
        lists["born"]: "confirmed",
    }
    assert (await _subscriber(engine, person["email"]))["confirmed_lists"] == 2


async def _until_waiting_for_a_lock(engine: AsyncEngine) -> None:
    for _attempt in range(200):
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the withdrawal never waited for the confirmation's lock")
