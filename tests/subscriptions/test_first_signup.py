"""A first sign-up on PostgreSQL is written in one statement on the driver connection
(queries/first_signup.py): the same rows, mail and events as the general path writes, and a
concurrent first sign-up of the same address is still one subscriber."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions import signup
from services.subscriptions.abuse import SignupGuard
from services.subscriptions.app import create_app
from services.subscriptions.audit import address_hash
from shared.contracts import OutboundMail
from shared.events import RESIDENT_EVENTS_STREAM, decode_resident_event
from shared.schema import (
    consent_events,
    mail_outbox,
    mailing_lists,
    subscribers,
    subscriptions,
    suppressions,
)
from shared.settings import Settings
from tests.conftest import app_for
from tests.subscriptions.conftest import queued_mails, seed_site, subscribe_json
from tests.subscriptions.residents import table_rows
from tests.subscriptions.test_public_fields import seed_field

# Differ between any two sign-ups: ids, keys, addresses, times.
_OWN = {"id", "key", "email", "email_key", "subscriber_id", "created_at", "updated_at"}
_TIMES = {"requested_at", "at"}


def _shape(rows: list[dict[str, Any]], subscriber_id: int) -> list[dict[str, Any]]:
    mine = [row for row in rows if row.get("subscriber_id", row.get("id")) == subscriber_id]
    return [{k: v for k, v in row.items() if k not in _OWN | _TIMES} for row in mine]


def _mail_shape(mail: OutboundMail) -> dict[str, Any]:
    fields = msgspec.structs.asdict(mail)
    for part in ("text", "html"):
        # The links carry each subscriber's signed tokens.
        fields[part] = re.sub(r"/(confirm|preferences)/[^\s\"<]+", r"/\1/TOKEN", fields[part])
    return {k: v for k, v in fields.items() if k not in {"message_key", "to"}}


async def _sign_up(client: httpx.AsyncClient, email: str, lists: list[str]) -> None:
    response = await subscribe_json(
        client,
        email=email,
        lists=lists,
        language="sv",
        name="Maja Ørsted",
        municipality="dk-koebenhavn",
        site="malmo-bibliotek",
        consent_version="2026-11-1",
        custom={"neighbourhood": "Nørrebro"},
    )
    assert response.status_code == 202, response.text


async def test_a_first_sign_up_writes_what_the_general_path_writes(
    settings: Settings,
    live_server: Any,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement first sign-up is PostgreSQL's")
    site_id = await seed_site(engine, "malmo-bibliotek")
    await seed_field(engine, "neighbourhood")
    recording = dataclasses.replace(settings, record_consent_ip=True)
    async with (
        live_server(create_app(recording)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
    ):
        await _sign_up(client, "Fast.One@example.org", ["musik", "kultur"])
        # The general path, as every sign-up that is not an address's first takes it.
        monkeypatch.setattr(signup, "_first_signup", _no_first_signup)
        await _sign_up(client, "general.one@example.org", ["musik", "kultur"])

    people = await table_rows(engine, subscribers)
    fast, general = (
        next(row for row in people if row["email"] == address)
        for address in ("Fast.One@example.org", "general.one@example.org")
    )
    assert fast["email_key"] == "fast.one@example.org"
    assert fast["source_site_id"] == site_id
    assert fast["custom_values"] == {"neighbourhood": "Nørrebro"}
    assert fast["created_at"] == fast["updated_at"]
    for table in (subscribers, subscriptions, consent_events):
        rows = await table_rows(engine, table)
        assert _shape(rows, fast["id"]) == _shape(rows, general["id"]), table.name
        assert _shape(rows, fast["id"]), table.name
    consent = [row for row in await table_rows(engine, consent_events)]
    assert {row["ip"] for row in consent} == {"127.0.0.1"}
    assert [row["list_id"] for row in consent if row["subscriber_id"] == fast["id"]] == sorted(
        [lists["musik"], lists["kultur"]]
    )
    assert {row["at"] for row in consent if row["subscriber_id"] == fast["id"]} == {
        fast["created_at"]
    }

    kept = {row["subscriber_id"]: row for row in await table_rows(engine, mail_outbox)}
    mails = {mail.to: mail for mail in await queued_mails(redis)}
    for person in (fast, general):
        mail = mails[person["email"]]
        assert kept[person["id"]]["job_id"] == f"tx:{mail.message_key}"
        assert msgspec.json.decode(kept[person["id"]]["mail"], type=OutboundMail) == mail
        assert mail.message_key.startswith(f"confirm:{person['key']}:")
    assert _mail_shape(mails[fast["email"]]) == _mail_shape(mails[general["email"]])
    # The confirmation greets nobody by a name the address's owner has not confirmed.
    assert "Maja" not in mails[fast["email"]].text

    events = [
        decode_resident_event(fields)
        for _id, fields in await redis.xrange(RESIDENT_EVENTS_STREAM, "-", "+")
    ]
    by_key = {event.subscriber_key: event for event in events}
    assert by_key[fast["key"]].type == by_key[general["key"]].type == "subscriber.subscribed"
    assert by_key[fast["key"]].lists == by_key[general["key"]].lists == ("kultur", "musik")


async def _no_first_signup(*_args: Any, **_kwargs: Any) -> None:
    return None


async def test_concurrent_first_sign_ups_of_one_mailbox_make_one_subscriber(
    settings: Settings,
    live_server: Any,
    engine: AsyncEngine,
    lists: dict[str, int],
    redis: Redis,
) -> None:
    spellings = ["ida@example.org", "Ida@example.org", "IDA@example.org", "ida@EXAMPLE.org"]
    within_limits = dataclasses.replace(
        settings, signup_limit_per_address=100, confirm_mails_per_address_per_day=100
    )
    async with (
        live_server(create_app(within_limits)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
    ):
        answers = await asyncio.gather(
            *(subscribe_json(client, email=email, lists=["kultur"]) for email in spellings * 2)
        )
    assert [answer.status_code for answer in answers] == [202] * len(answers)
    people = await table_rows(engine, subscribers)
    assert [row["email_key"] for row in people] == ["ida@example.org"]
    assert len(await table_rows(engine, subscriptions)) == 1
    # Every sign-up of a pending address mails a confirmation, all for the one subscriber.
    mails = await queued_mails(redis)
    assert len(mails) == len(answers)
    assert {mail.message_key.split(":")[1] for mail in mails} == {people[0]["key"]}


async def test_a_first_sign_up_over_the_daily_mail_allowance_stays_pending_unmailed(
    settings: Settings,
    live_server: Any,
    engine: AsyncEngine,
    lists: dict[str, int],
    redis: Redis,
) -> None:
    """An address that has used today's confirmation mails (say, signed up and erased by
    staff since) is recorded as pending, with no mail queued or kept, on either path."""
    guard = SignupGuard(redis, settings)
    for _mail in range(settings.confirm_mails_per_address_per_day):
        assert await guard.may_send_confirmation("ny@example.org")
    async with (
        live_server(app_for(create_app, settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
    ):
        response = await subscribe_json(client, email="ny@example.org", lists=["kultur"])
    assert response.status_code == 202
    [person] = await table_rows(engine, subscribers)
    assert [row["status"] for row in await table_rows(engine, subscriptions)] == ["pending"]
    assert await queued_mails(redis) == []
    assert await table_rows(engine, mail_outbox) == []
    events = [
        decode_resident_event(fields)
        for _id, fields in await redis.xrange(RESIDENT_EVENTS_STREAM, "-", "+")
    ]
    assert [(event.type, event.subscriber_key, event.lists) for event in events] == [
        ("subscriber.subscribed", person["key"], ("kultur",))
    ]


async def test_a_list_changed_since_it_was_read_is_signed_up_to_as_it_is_now(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], redis: Redis
) -> None:
    """The process keeps the public lists it read; the one statement writes only while they
    still hold, else the general path records the sign-up from the database as it is."""
    # Reads the lists (and keeps them) as the process's first sign-up.
    assert (await subscribe_json(client, email="first@example.org")).status_code == 202
    await _execute(
        engine,
        sa.update(mailing_lists)
        .where(mailing_lists.c.id == lists["kultur"])
        .values(name_da="Kultur og kunst"),
    )
    renamed = await subscribe_json(client, email="second@example.org", lists=["kultur"])
    assert renamed.status_code == 202
    await _execute(
        engine,
        sa.update(mailing_lists)
        .where(mailing_lists.c.id == lists["musik"])
        .values(is_public=False),
    )
    private = await subscribe_json(client, email="third@example.org", lists=["musik"])
    assert private.status_code == 422  # unknown, as a private list always is
    mails = {mail.to: mail for mail in await queued_mails(redis)}
    assert "Kultur i Øresund" in mails["first@example.org"].text
    assert "Kultur og kunst" in mails["second@example.org"].text
    assert "third@example.org" not in mails
    people = {row["email"]: row for row in await table_rows(engine, subscribers)}
    assert set(people) == {"first@example.org", "second@example.org"}
    pending = [
        (row["subscriber_id"], row["list_id"], row["status"])
        for row in await table_rows(engine, subscriptions)
    ]
    assert sorted(pending) == sorted(
        (people[email]["id"], lists["kultur"], "pending")
        for email in ("first@example.org", "second@example.org")
    )


async def test_an_erased_address_signing_up_again_is_answered_alike_and_not_stored(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int], redis: Redis
) -> None:
    assert (await subscribe_json(client, email="first@example.org")).status_code == 202
    await _execute(
        engine,
        sa.insert(suppressions).values(
            email_hash=address_hash("Erased@Example.org"),
            reason="erased",
            created_at=datetime.now(UTC),
        ),
    )
    answer = await subscribe_json(client, email="erased@example.org")
    assert answer.status_code == 202
    assert answer.json()["status"] == "pending"
    assert [row["email"] for row in await table_rows(engine, subscribers)] == ["first@example.org"]
    assert [mail.to for mail in await queued_mails(redis)] == ["first@example.org"]
    assert len(await table_rows(engine, mail_outbox)) == 1


async def _execute(engine: AsyncEngine, statement: sa.Executable) -> None:
    async with engine.begin() as connection:
        await connection.execute(statement)
