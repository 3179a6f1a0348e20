"""Outgoing webhooks over real HTTP: a receiver on a port checks the Standard Webhooks signature,
answers 500s to see retries, and keeps failing to see its endpoint disabled."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import webhooks
from services.campaigns.webhook_dispatch import Dispatcher
from services.campaigns.webhook_http import UnsafeTarget, resolve_public, url_problem
from services.campaigns.webhook_schemas import WebhookCreate
from shared.clock import utcnow
from shared.db import create_sessionmaker
from shared.events import ResidentEvent, publish_resident_event
from shared.schema import webhook_deliveries
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.support.webhook_receiver import WebhookReceiver, verify


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhooks to a receiver on 127.0.0.1, retried within a second, disabled after two."""
    return dataclasses.replace(
        settings,
        webhook_allow_loopback_http=True,
        webhook_retry_delays=(0.1, 0.1),
        webhook_poll_interval=0.05,
        webhook_disable_after=2,
        webhook_timeout=5.0,
    )


@pytest.fixture
async def receiver(live_server: Any) -> AsyncIterator[tuple[WebhookReceiver, str]]:
    """A receiver and the URL it listens on."""
    app = WebhookReceiver()
    async with live_server(app) as server:
        yield app, f"{server.url}/hooks/brevdue?source=test"


async def register(api: Api, url: str, events: list[str]) -> dict[str, Any]:
    response = await api.post("/api/webhooks", role="admin", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def confirmed(key: str = "a" * 32) -> ResidentEvent:
    return ResidentEvent(
        type="subscriber.confirmed", at=time.time(), subscriber_key=key, lists=("kultur",)
    )


async def wait_for_delivery(api: Api, webhook_id: int, status: str) -> dict[str, Any]:
    """The newest delivery once it has ``status``."""
    async with asyncio.timeout(15):
        while True:
            log = (await api.get(f"/api/webhooks/{webhook_id}/deliveries", role="admin")).json()
            if log["items"] and log["items"][0]["status"] == status:
                newest: dict[str, Any] = log["items"][0]
                return newest
            await asyncio.sleep(0.05)


async def test_an_event_arrives_signed_with_only_what_it_needs(
    api: Api, redis: Redis, receiver: tuple[WebhookReceiver, str]
) -> None:
    app, url = receiver
    hook = await register(api, url, ["subscriber.confirmed", "campaign.sent"])
    assert hook["secret"].startswith("whsec_")
    shown = (await api.get(f"/api/webhooks/{hook['id']}", role="admin")).json()
    assert "secret" not in shown  # once, at creation

    await publish_resident_event(redis, confirmed("b" * 32))
    [got] = await app.wait_for(1)

    assert verify(hook["secret"], got)
    assert got.path == "/hooks/brevdue"
    assert got.headers["webhook-id"].startswith("msg_")
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 30
    assert got.json()["type"] == "subscriber.confirmed"
    assert got.json()["data"] == {"subscriber": "b" * 32, "lists": ["kultur"]}
    delivery = await wait_for_delivery(api, hook["id"], "delivered")
    assert (delivery["attempts"], delivery["last_code"]) == (1, 200)
    # A different secret does not verify: the check above can fail.
    other = await register(api, url, ["campaign.sent"])
    assert not verify(other["secret"], got)


async def test_events_go_only_to_endpoints_that_asked_for_them(
    api: Api, redis: Redis, receiver: tuple[WebhookReceiver, str]
) -> None:
    app, url = receiver
    await register(api, url, ["campaign.sent"])
    await publish_resident_event(redis, confirmed())
    sent = ResidentEvent(type="campaign.sent", at=time.time(), campaign_id=7, recipients=120)
    await publish_resident_event(redis, sent)
    [got] = await app.wait_for(1)
    await asyncio.sleep(0.5)
    assert len(app.received) == 1
    assert got.json()["data"] == {"campaign_id": 7, "recipients": 120}


async def test_a_failing_receiver_sees_retries_with_the_same_id(
    api: Api, redis: Redis, receiver: tuple[WebhookReceiver, str]
) -> None:
    app, url = receiver
    app.codes = [500, 503]
    hook = await register(api, url, ["subscriber.confirmed"])
    await publish_resident_event(redis, confirmed())
    first, second, third = await app.wait_for(3)

    assert (
        first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    )
    assert all(verify(hook["secret"], got) for got in (first, second, third))
    delivery = await wait_for_delivery(api, hook["id"], "delivered")
    assert (delivery["attempts"], delivery["last_code"]) == (3, 200)
    assert (await api.get(f"/api/webhooks/{hook['id']}", role="admin")).json()["active"]


async def test_repeated_failure_disables_the_endpoint_until_staff_enable_it(
    api: Api, redis: Redis, receiver: tuple[WebhookReceiver, str]
) -> None:
    app, url = receiver
    app.default = 500
    hook = await register(api, url, ["subscriber.confirmed"])
    for n in range(2):  # two deliveries, three attempts each, all refused
        await publish_resident_event(redis, confirmed(f"{n:032x}"))
        await app.wait_for(3 * (n + 1))
        failed = await wait_for_delivery(api, hook["id"], "failed")
        assert (failed["attempts"], failed["last_code"]) == (3, 500)
        assert "receiver says 500" in failed["last_error"]

    shown = (await api.get(f"/api/webhooks/{hook['id']}", role="admin")).json()
    assert not shown["active"]
    assert "2 deliveries in a row failed" in shown["disabled_reason"]
    # Disabled: events pass it by, nothing is queued or sent.
    await publish_resident_event(redis, confirmed("c" * 32))
    await asyncio.sleep(0.5)
    log = (await api.get(f"/api/webhooks/{hook['id']}/deliveries", role="admin")).json()
    assert [d["status"] for d in log["items"]] == ["failed", "failed"]
    assert len(app.received) == 6

    app.default = 204
    enabled = await api.patch(f"/api/webhooks/{hook['id']}", role="admin", json={"active": True})
    assert enabled.json()["active"] and enabled.json()["failures_in_row"] == 0
    await publish_resident_event(redis, confirmed("d" * 32))
    got = await app.wait_for(7)
    assert got[6].json()["data"]["subscriber"] == "d" * 32
    assert (await wait_for_delivery(api, hook["id"], "delivered"))["last_code"] == 204


async def test_a_test_event_is_sent_on_request(
    api: Api, receiver: tuple[WebhookReceiver, str]
) -> None:
    app, url = receiver
    hook = await register(api, url, ["subscriber.bounced"])
    response = await api.post(f"/api/webhooks/{hook['id']}/test", role="admin")
    assert response.status_code == 202
    [got] = await app.wait_for(1)
    assert got.headers["webhook-id"] == response.json()["message_id"]
    assert got.json()["type"] == "webhook.test"
    assert verify(hook["secret"], got)


async def test_private_and_loopback_addresses_are_never_called(
    api: Api, redis: Redis, receiver: tuple[WebhookReceiver, str]
) -> None:
    app, url = receiver
    # https:// passes registration, but 127.0.0.1 is refused at the attempt.
    hook = await register(api, url.replace("http://", "https://"), ["subscriber.confirmed"])
    await publish_resident_event(redis, confirmed())
    delivery = await wait_for_delivery(api, hook["id"], "failed")
    assert "non-public address (127.0.0.1)" in delivery["last_error"]
    assert delivery["last_code"] is None
    assert app.received == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://example.org/hook", "http:// is only for 127.0.0.1"),
        ("ftp://example.org/hook", "must start with https://"),
        ("https://user:pw@example.org/hook", "must not carry a password"),
        ("https://example.org/a b", "without spaces"),
        ("http://localhost:8000/", "http:// is only for 127.0.0.1"),
        ("https://example.org:99999/", "is not a valid URL"),
    ],
)
def test_urls_that_cannot_be_registered(url: str, problem: str) -> None:
    found = url_problem(url, allow_loopback_http=True)
    assert found is not None and problem in found
    assert url_problem("https://hooks.example.org/brevdue?x=1", allow_loopback_http=False) is None
    assert "https://" in (url_problem("http://127.0.0.1:8000/", allow_loopback_http=False) or "")


async def test_bad_input_and_roles(api: Api) -> None:
    bad = await api.post(
        "/api/webhooks", role="admin", json={"url": "http://example.org/", "events": ["x"]}
    )
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"url"} or "events" in bad.json()["errors"]
    no_events = await api.post(
        "/api/webhooks", role="admin", json={"url": "https://example.org/", "events": []}
    )
    assert no_events.status_code == 422 and "events" in no_events.json()["errors"]
    editor = await api.post(
        "/api/webhooks", role="editor", json={"url": "https://example.org/", "events": []}
    )
    assert editor.status_code == 403
    assert (await api.get("/api/webhooks/999999999999", role="admin")).status_code == 404
    assert (await api.get("/api/webhooks/99999999999999999999", role="admin")).status_code in (
        400,
        404,
    )
    assert (await api.delete("/api/webhooks/5", role="admin")).status_code == 404


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("2a00:1450:4001:82b::200e", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:93.184.215.14", True),
    ],
)
async def test_only_public_addresses_are_called(address: str, allowed: bool) -> None:
    if allowed:
        assert await resolve_public(address, 443, allow_loopback=False) == address
    else:
        with pytest.raises(UnsafeTarget):
            await resolve_public(address, 443, allow_loopback=False)


async def test_an_entry_read_twice_queues_one_delivery_and_old_ones_are_pruned(
    settings: Settings, db: AsyncEngine
) -> None:
    sessions = create_sessionmaker(db)  # no app runs: nothing is sent
    async with sessions() as session:
        for url, events in [
            ("https://hooks.example.org/in", ["subscriber.confirmed"]),
            ("https://other.example.org/in", ["campaign.sent"]),
        ]:
            await webhooks.create_endpoint(session, settings, WebhookCreate(url=url, events=events))
        assert await webhooks.fan_out(session, "1-0", confirmed()) == 1
        assert await webhooks.fan_out(session, "1-0", confirmed()) == 0
        assert await webhooks.fan_out(session, "2-0", confirmed()) == 1
    async with db.begin() as conn:
        await conn.execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.source == "1-0")
            .values(status="delivered", created_at=utcnow() - timedelta(days=31))
        )
    dispatcher = Dispatcher(sessions, Settings())
    assert await dispatcher.prune() == 1
    async with db.connect() as conn:
        left = (await conn.execute(sa.select(webhook_deliveries.c.source))).scalars().all()
    assert left == ["2-0"]
