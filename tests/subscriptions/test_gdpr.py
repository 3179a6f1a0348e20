"""Export and erasure over real HTTP and real SMTP (the mailer's burst worker)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
import time_machine
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.audit import address_hash
from shared.addresses import ADDRESS_HASH_SALT
from shared.contracts import SubscriberRequest
from shared.jobs import create_job_pool, enqueue
from shared.queues import ERASE_SUBSCRIBER, SUBSCRIPTIONS_QUEUE
from shared.schema import campaigns, deliveries, subscriptions, suppressions
from shared.settings import Settings
from tests.subscriptions.conftest import all_subscriptions, queued_mails, subscribe_json
from tests.subscriptions.residents import (
    EXPORT_LINK,
    audit_rows,
    consent_rows,
    sign_up,
    subscriber_rows,
    table_rows,
)
from tests.support.smtp import RecordingSMTPServer

mailer = pytest.importorskip("services.mailer.worker")


async def seed_delivery(engine: AsyncEngine, subscriber_id: int) -> int:
    """A sent campaign and the mailer's ledger row for one subscriber; the campaign id."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        campaign_id = (
            await conn.execute(
                sa.insert(campaigns)
                .values(
                    subject="Nyt", body="<p>Hej</p>", status="sent", created_at=now, updated_at=now
                )
                .returning(campaigns.c.id)
            )
        ).scalar_one()
        await conn.execute(
            sa.insert(deliveries).values(
                campaign_id=campaign_id,
                subscriber_id=subscriber_id,
                status="sent",
                attempts=1,
                message_id="<c1@kultur.test>",
                queued_at=now,
                updated_at=now,
                sent_at=now,
            )
        )
    return int(campaign_id)


async def delivered_export_token(
    client: httpx.AsyncClient, settings: Settings, smtp: RecordingSMTPServer, token: str, to: str
) -> str:
    """Ask for an export on the preference page; return the token of the link that arrives."""
    response = await client.post(f"/preferences/{token}/export")
    assert response.status_code == 200
    assert "<h1>" in response.text and "/preferences/" in response.text
    await mailer.run_worker(settings, burst=True)
    [message] = smtp.to(to)
    text = message.parsed().get_body(("plain",))
    assert text is not None
    match = EXPORT_LINK.search(text.get_content())
    assert match
    return match.group(1)


async def test_a_resident_downloads_everything_stored_through_the_mailed_link(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    resident = await sign_up(client, redis, name="Åsa Öberg", language="sv", lists=["kultur"])
    await client.post(
        f"/preferences/{resident.preferences}",
        data={
            "lists": ["kultur"],
            "language": "sv",
            "name": "Åsa Öberg",
            "municipality": "se-lund",
        },
    )
    [subscriber] = await subscriber_rows(engine)
    campaign_id = await seed_delivery(engine, subscriber["id"])

    token = await delivered_export_token(
        client, settings, smtp_server, resident.preferences, resident.email
    )
    [message] = smtp_server.to(resident.email)
    assert "Dina uppgifter från KulturMetropolØresund" in str(message.parsed()["Subject"])

    page = await client.get(f"/export/{token}")  # what a link scanner does: nothing happens
    assert page.status_code == 200
    assert '<form method="post" action="/export/' in page.text
    assert not [e for e in await audit_rows(engine) if e["action"] == "exported"]

    response = await client.post(f"/export/{token}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith("attachment;")
    data = response.json()
    assert data["format"] == "brevdue-export-1"
    person = data["subscriber"]
    assert (person["email"], person["name"], person["language"]) == (
        resident.email,
        "Åsa Öberg",
        "sv",
    )
    assert (person["municipality"], person["municipality_name"]) == ("se-lund", "Lund")
    [subscription] = data["subscriptions"]
    assert subscription["list"] == "kultur" and subscription["status"] == "confirmed"
    assert subscription["requested_at"] and subscription["confirmed_at"]
    assert [(e["list"], e["event"]) for e in data["consent_events"]] == [
        ("kultur", "requested"),
        ("kultur", "confirmed"),
    ]
    assert data["consent_events"][0]["consent_text"].startswith("Ja, jag vill")
    [delivery] = data["deliveries"]
    assert (delivery["campaign_id"], delivery["status"]) == (campaign_id, "sent")
    assert delivery["sent_at"]
    assert [e["action"] for e in data["audit_log"]] == ["preferences_changed", "export_requested"]
    actions = [e["action"] for e in await audit_rows(engine)]
    assert actions[-1] == "exported"


async def test_the_export_format_names_the_same_fields_in_every_section(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    resident = await sign_up(client, redis, lists=["kultur"])
    [subscriber] = await subscriber_rows(engine)
    await seed_delivery(engine, subscriber["id"])
    token = await delivered_export_token(
        client, settings, smtp_server, resident.preferences, resident.email
    )

    data = (await client.post(f"/export/{token}")).json()

    # "brevdue-export-1" is read by residents' tools: its fields stay as they were published.
    assert set(data) == {
        "format",
        "exported_at",
        "subscriber",
        "subscriptions",
        "consent_events",
        "deliveries",
        "audit_log",
    }
    [subscription] = data["subscriptions"]
    assert set(subscription) == {
        "list",
        "status",
        "requested_at",
        "confirmed_at",
        "unsubscribed_at",
        "source_site",
    }
    assert {tuple(sorted(event)) for event in data["consent_events"]} == {
        (
            "at",
            "consent_text",
            "consent_text_version",
            "event",
            "form",
            "ip",
            "language",
            "list",
            "source_site",
        )
    }
    [delivery] = data["deliveries"]
    assert set(delivery) == {"campaign_id", "status", "queued_at", "sent_at"}
    [entry] = data["audit_log"]
    assert set(entry) == {"at", "actor", "action", "details"}
    assert (entry["actor"], entry["action"], entry["details"]) == (
        "resident",
        "export_requested",
        {},
    )


async def test_export_links_expire_after_24_hours(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    resident = await sign_up(client, redis)
    token = await delivered_export_token(
        client, settings, smtp_server, resident.preferences, resident.email
    )

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=23)):
        assert (await client.get(f"/export/{token}")).status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25)):
        page = await client.get(f"/export/{token}")
        download = await client.post(f"/export/{token}")

    assert page.status_code == 400
    assert "Dette download-link er udløbet" in page.text
    assert download.status_code == 400
    # A preferences token is not an export token.
    assert (await client.get(f"/export/{resident.preferences}")).status_code == 400


async def test_erasure_deletes_personal_data_and_blocks_a_new_sign_up_silently(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    resident = await sign_up(client, redis, name="Ib", language="en", lists=["kultur", "musik"])
    [subscriber] = await subscriber_rows(engine)
    await seed_delivery(engine, subscriber["id"])

    confirm_page = await client.get(f"/preferences/{resident.preferences}/erase")
    assert confirm_page.status_code == 200
    assert "Yes, delete all my data" in confirm_page.text
    assert len(await subscriber_rows(engine)) == 1  # following the link changes nothing

    response = await client.post(f"/preferences/{resident.preferences}/erase")

    assert response.status_code == 200
    assert "Your data has been deleted" in response.text
    assert await subscriber_rows(engine) == []
    assert await all_subscriptions(engine) == {}
    assert await consent_rows(engine) == []
    [suppression] = await table_rows(engine, suppressions)
    expected = hashlib.sha256((ADDRESS_HASH_SALT + resident.email).encode()).hexdigest()
    assert suppression["email_hash"] == expected == address_hash(resident.email.upper())
    assert suppression["reason"] == "erasure"
    [erased] = [e for e in await audit_rows(engine) if e["action"] == "erased"]
    assert (erased["actor"], erased["subscriber_ref"]) == ("resident", expected)
    for row in await audit_rows(engine):
        assert resident.email not in json.dumps(row, default=str)
    # The mailer's ledger keeps its row: a number and a status, nothing personal.
    [ledger] = await table_rows(engine, deliveries)
    assert ledger["subscriber_id"] == subscriber["id"]

    await mailer.run_worker(settings, burst=True)
    [goodbye] = smtp_server.to(resident.email)
    assert "Your data has been deleted" in str(goodbye.parsed()["Subject"])

    # Signing up again: the same answer, nothing stored, nothing sent.
    again = await subscribe_json(client, email=resident.email.upper(), language="en")
    assert again.status_code == 202
    assert await subscriber_rows(engine) == []
    assert await queued_mails(redis) == []
    # The old links now find nothing.
    gone = await client.get(f"/preferences/{resident.preferences}?lang=en")
    assert gone.status_code == 404
    assert "We hold no data about you" in gone.text
    assert (await client.post(f"/preferences/{resident.preferences}/erase")).status_code == 404


async def test_erasure_under_one_spelling_leaves_nothing_of_the_other(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    first = await sign_up(client, redis, email="Case.Test@Example.DK", lists=["kultur"])
    second = await sign_up(client, redis, email="case.test@example.dk", lists=["musik"])
    rows = await subscriber_rows(engine)
    assert [(row["email"], row["email_key"]) for row in rows] == [
        ("Case.Test@example.dk", "case.test@example.dk")
    ]
    assert {row["status"] for row in (await all_subscriptions(engine)).values()} == {"confirmed"}

    response = await client.post(f"/preferences/{second.preferences}/erase")

    assert response.status_code == 200
    assert await subscriber_rows(engine) == []
    assert await all_subscriptions(engine) == {}
    assert await consent_rows(engine) == []
    # The link mailed to the first spelling finds nothing either.
    assert (await client.get(f"/preferences/{first.preferences}")).status_code == 404


async def test_staff_erasure_runs_on_the_subscriptions_worker(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    settings: Settings,
) -> None:
    worker = pytest.importorskip("services.subscriptions.worker")
    resident = await sign_up(client, redis, name="Maja")
    jobs = await create_job_pool(settings.redis_url, SUBSCRIPTIONS_QUEUE)
    try:
        for email, request_id in ((resident.email, "r1"), ("nobody@example.org", "r2")):
            request = SubscriberRequest(email=email, actor="staff:7", request_id=request_id)
            await enqueue(jobs, ERASE_SUBSCRIBER, request)
        await worker.run_worker(settings, burst=True)
    finally:
        await jobs.aclose()

    assert await subscriber_rows(engine) == []
    assert {row["email_hash"] for row in await table_rows(engine, suppressions)} == {
        address_hash(resident.email),
        address_hash("nobody@example.org"),
    }
    erased = [e for e in await audit_rows(engine) if e["action"] == "erased"]
    # The two jobs may run in either order.
    assert sorted((e["actor"], json.dumps(e["details"])) for e in erased) == [
        ("staff:7", '{"found": false}'),
        ("staff:7", "{}"),
    ]
    [goodbye] = await queued_mails(redis)
    assert goodbye.category == "goodbye" and goodbye.to == resident.email
    assert "Hej Maja" in goodbye.text


async def test_an_export_link_finds_nothing_after_erasure(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    resident = await sign_up(client, redis)
    token = await delivered_export_token(
        client, settings, smtp_server, resident.preferences, resident.email
    )
    await client.post(f"/preferences/{resident.preferences}/erase")

    page = await client.get(f"/export/{token}")
    download = await client.post(f"/export/{token}")

    assert page.status_code == download.status_code == 404
    assert await table_rows(engine, subscriptions) == []
