"""Staff control of a campaign being sent, end to end: HTTP API → Redis → mailer → SMTP.

Failed sends listed and retried; pause, resume and cancel, also while batches are running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from brevdue_cli.redis_server import free_port
from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app
from services.mailer.config import MailerOptions
from services.mailer.worker import run_worker
from shared.events import CAMPAIGN_EVENTS_GROUP, CAMPAIGN_EVENTS_STREAM
from shared.queues import BULK_QUEUE
from shared.schema import campaigns, deliveries, mailing_lists, subscribers, subscriptions
from shared.settings import Settings, SmtpSettings
from tests.campaigns.conftest import Api, new_campaign
from tests.conftest import app_for
from tests.support.eligibility import recount_confirmed_lists
from tests.support.smtp import RecordingSMTPServer, SlowSMTPServer

FAST = MailerOptions(
    batch_size=3,
    chunk_size=2,
    smtp_connections=2,
    transactional_connections=1,
    job_timeout=10,
    max_attempts=3,
    retry_base=0.02,
    retry_cap=0.1,
    poll_delay=0.05,
    shutdown_grace=2,
)


async def add_readers(db: AsyncEngine, count: int, slug: str = "kultur") -> list[str]:
    """Confirmed, active subscribers of a list (as the subscriptions service leaves them)."""
    now = datetime.now(UTC)
    emails = [f"reader{n}@example.dk" for n in range(count)]
    async with db.begin() as conn:
        list_id = (
            await conn.execute(sa.select(mailing_lists.c.id).where(mailing_lists.c.slug == slug))
        ).scalar_one()
        first = (await conn.execute(sa.select(sa.func.max(subscribers.c.id)))).scalar() or 0
        await conn.execute(
            sa.insert(subscribers),
            [
                {
                    "id": first + n + 1,
                    "key": f"k{first + n + 1:031d}",
                    "email": email,
                    "name": f"Læser {n}",
                    "language": "da",
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                }
                for n, email in enumerate(emails)
            ],
        )
        await conn.execute(
            sa.insert(subscriptions),
            [
                {
                    "subscriber_id": first + n + 1,
                    "list_id": list_id,
                    "status": "confirmed",
                    "requested_at": now,
                    "confirmed_at": now,
                }
                for n in range(len(emails))
            ],
        )
        await conn.execute(recount_confirmed_lists())
    return emails


async def ledger_statuses(db: AsyncEngine, campaign_id: int) -> Counter[str]:
    """How many of the campaign's ledger rows are in each status."""
    async with db.connect() as conn:
        rows = await conn.execute(
            sa.select(deliveries.c.status).where(deliveries.c.campaign_id == campaign_id)
        )
        return Counter(str(status) for status in rows.scalars())


async def start(api: Api, **changes: Any) -> int:
    """Create a campaign on the kultur list and send it; return its id."""
    campaign = await new_campaign(api, **changes)
    response = await api.post(f"/api/campaigns/{campaign['id']}/send")
    assert response.status_code == 202, response.text
    return int(campaign["id"])


async def test_failed_sends_are_listed_and_retried(
    api: Api, db: AsyncEngine, settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    emails = await add_readers(db, 4)
    blocked = emails[2]
    smtp_server.handler.fail_rcpt[blocked] = "550 5.7.1 blocked by policy"
    campaign_id = await start(api)
    await run_worker(settings, burst=True, options=FAST)

    body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert body["status"] == "sent"
    assert body["counts"] == {"recipients": 4, "sent": 3, "failed": 1, "queued": 0}
    failures = await api.get(f"/api/campaigns/{campaign_id}/failures", role="editor")
    assert failures.status_code == 200, failures.text
    page = failures.json()
    assert (page["total"], page["page"], len(page["items"])) == (1, 1, 1)
    [failure] = page["items"]
    assert failure["email"] == blocked
    assert (failure["attempts"], failure["last_code"]) == (1, 550)
    assert failure["last_response"] == "5.7.1 blocked by policy"
    assert failure["updated_at"]
    viewer = await api.get(f"/api/campaigns/{campaign_id}/failures", role="viewer")
    assert viewer.status_code == 403
    paged = await api.get(f"/api/campaigns/{campaign_id}/failures?page=2&per_page=1", role="editor")
    assert paged.json()["items"] == [] and paged.json()["total"] == 1

    # The cause is fixed; a double click enqueues one retry job.
    smtp_server.handler.fail_rcpt.clear()
    url = f"/api/campaigns/{campaign_id}/retry-failed"
    assert (await api.post(url, role="viewer")).status_code == 403
    first, second = await api.post(url), await api.post(url)
    assert first.status_code == 202, first.text
    assert first.json() == {"campaign_id": campaign_id, "failed": 1}
    assert second.status_code == 202
    assert await redis.zcard(BULK_QUEUE) == 1
    await run_worker(settings, burst=True, options=FAST)

    assert len(smtp_server.to(blocked)) == 1
    for email in emails:
        assert len(smtp_server.to(email)) == 1, email
    body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert body["status"] == "sent"
    assert body["counts"] == {"recipients": 4, "sent": 4, "failed": 0, "queued": 0}
    page = (await api.get(f"/api/campaigns/{campaign_id}/failures", role="editor")).json()
    assert page == {"items": [], "page": 1, "per_page": 50, "total": 0}
    nothing = await api.post(url)
    assert nothing.status_code == 409 and "no failed sends" in nothing.json()["error"]


async def test_retry_failed_needs_a_sent_campaign(api: Api, redis: Redis) -> None:
    draft = await new_campaign(api)
    response = await api.post(f"/api/campaigns/{draft['id']}/retry-failed")
    assert response.status_code == 409
    assert response.json()["errors"] == {"status": "draft"}
    assert (await api.get("/api/campaigns/999/failures", role="editor")).status_code == 404
    assert (await api.post("/api/campaigns/999/retry-failed")).status_code == 404


async def test_pause_before_batches_run_then_resume(
    api: Api, db: AsyncEngine, settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    emails = await add_readers(db, 7)
    campaign_id = await start(api)
    paused = await api.post(f"/api/campaigns/{campaign_id}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    again = await api.post(f"/api/campaigns/{campaign_id}/pause")
    assert again.status_code == 409 and again.json()["errors"] == {"status": "paused"}

    # Fan-out writes the ledger; the batches find the campaign paused and send nothing.
    await run_worker(settings, burst=True, options=FAST)
    assert smtp_server.messages == []
    assert await ledger_statuses(db, campaign_id) == {"queued": 7}
    body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert (body["status"], body["counts"]["queued"]) == ("paused", 7)

    resumed = await api.post(f"/api/campaigns/{campaign_id}/resume")
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["status"] == "sending"
    assert (await api.post(f"/api/campaigns/{campaign_id}/resume")).status_code == 409
    await run_worker(settings, burst=True, options=FAST)

    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == sorted(emails)
    body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert body["status"] == "sent" and body["counts"]["sent"] == 7
    for action in ("pause", "resume", "cancel"):
        late = await api.post(f"/api/campaigns/{campaign_id}/{action}")
        assert late.status_code == 409, action
        assert late.json()["errors"] == {"status": "sent"}


async def test_transitions_of_a_draft_are_409(api: Api, redis: Redis) -> None:
    draft = await new_campaign(api)
    for action in ("pause", "resume", "cancel"):
        response = await api.post(f"/api/campaigns/{draft['id']}/{action}")
        assert response.status_code == 409, action
        assert "is draft" in response.json()["error"]
        assert (
            await api.post(f"/api/campaigns/{draft['id']}/{action}", role="viewer")
        ).status_code == 403
    assert (await api.post("/api/campaigns/4242/pause")).status_code == 404


async def test_cancel_skips_the_rest(
    api: Api, db: AsyncEngine, settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    await add_readers(db, 5)
    campaign_id = await start(api)
    await api.post(f"/api/campaigns/{campaign_id}/pause")
    await run_worker(settings, burst=True, options=FAST)  # fan-out only: the ledger is queued
    cancelled = await api.post(f"/api/campaigns/{campaign_id}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = await api.post(f"/api/campaigns/{campaign_id}/cancel")
    assert again.status_code == 409 and again.json()["errors"] == {"status": "cancelled"}
    assert (await api.post(f"/api/campaigns/{campaign_id}/resume")).status_code == 409
    await run_worker(settings, burst=True, options=FAST)

    assert smtp_server.messages == []
    assert await ledger_statuses(db, campaign_id) == {"skipped": 5}
    body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert body["status"] == "cancelled"
    assert body["counts"] == {"recipients": 5, "sent": 0, "failed": 0, "queued": 0}


# --- while batches are running --------------------------------------------------------------


@pytest.fixture
def slow_smtp() -> Iterator[SlowSMTPServer]:
    """A recording SMTP server that spends 50 ms on each message."""
    server = SlowSMTPServer(free_port(), delay=0.05)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def slow_worker(settings: Settings, slow_smtp: SlowSMTPServer) -> AsyncIterator[None]:
    """A mailer (not burst) sending to the slow server, one connection: ~20 msg/s."""
    options = dataclasses.replace(FAST, smtp_connections=1)
    wired = dataclasses.replace(
        settings, smtp=SmtpSettings(host="127.0.0.1", port=slow_smtp.port, timeout=10)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(wired, options=options, stop=stop))
    yield
    stop.set()
    await asyncio.wait_for(task, 20)


async def wait_for(condition: Any, within: float = 10) -> None:
    """Poll ``condition()`` until it holds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def settled_count(server: SlowSMTPServer, quiet: float, within: float = 10) -> int:
    """The number of messages received once none has arrived for ``quiet`` seconds."""
    deadline = time.monotonic() + within
    count = len(server.messages)
    while True:
        await asyncio.sleep(quiet)
        if len(server.messages) == count:
            return count
        assert time.monotonic() < deadline, "the relay kept receiving"
        count = len(server.messages)


async def test_pause_mid_campaign_stops_sending_until_resumed(
    api: Api, db: AsyncEngine, slow_smtp: SlowSMTPServer, slow_worker: None, redis: Redis
) -> None:
    emails = await add_readers(db, 30)
    campaign_id = await start(api)
    await wait_for(lambda: len(slow_smtp.messages) >= 3)
    assert (await api.post(f"/api/campaigns/{campaign_id}/pause")).status_code == 200
    # The chunks in flight complete (one per running batch, 2 messages each, queued for the
    # relay's 3 connections): wait until nothing has arrived for 0.4 s.
    at_pause = await settled_count(slow_smtp, quiet=0.4)
    await asyncio.sleep(1.0)  # ~20 more would have gone out by now
    assert len(slow_smtp.messages) == at_pause < 30
    body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert body["status"] == "paused" and body["counts"]["sent"] == at_pause

    assert (await api.post(f"/api/campaigns/{campaign_id}/resume")).status_code == 202
    await wait_for(lambda: len(slow_smtp.messages) >= 30)
    await asyncio.sleep(0.2)
    received = Counter(r for m in slow_smtp.messages for r in m.rcpt_tos)
    assert received == Counter(emails)  # everyone exactly once
    await wait_for_status(api, campaign_id, "sent")


async def test_cancel_mid_campaign_skips_the_rest(
    api: Api, db: AsyncEngine, slow_smtp: SlowSMTPServer, slow_worker: None, redis: Redis
) -> None:
    await add_readers(db, 30)
    campaign_id = await start(api)
    await wait_for(lambda: len(slow_smtp.messages) >= 3)
    assert (await api.post(f"/api/campaigns/{campaign_id}/cancel")).status_code == 202
    await wait_for_status(api, campaign_id, "cancelled")
    # Messages already handed to the relay when the cancel arrived still finish (on a slow
    # host for longer than half a second); then nothing more is sent.
    sent = await settled_count(slow_smtp, quiet=0.5)
    await asyncio.sleep(0.5)
    assert len(slow_smtp.messages) == sent < 30
    statuses = await ledger_statuses(db, campaign_id)
    assert statuses == {"sent": sent, "skipped": 30 - sent}


async def wait_for_status(api: Api, campaign_id: int, status: str, within: float = 10) -> None:
    """Poll the API until the campaign shows ``status`` and nothing is left queued."""
    deadline = time.monotonic() + within
    while True:
        body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
        if body["status"] == status and body["counts"]["queued"] == 0:
            return
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)


# --- paused by the mailer: too much of its mail failed ---------------------------------------

# One batch at a time, so the second waits until the first has judged the campaign.
PAUSING = dataclasses.replace(FAST, pause_failure_rate=0.5, pause_min_sample=3, bulk_max_jobs=1)


async def wait_for_pause(api: Api, campaign_id: int, within: float = 10) -> dict[str, Any]:
    """Poll the API until the campaign shows ``paused``; return its JSON."""
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = (await api.get(f"/api/campaigns/{campaign_id}")).json()
        if body["status"] == "paused":
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)


async def test_mailer_pause_shows_with_its_reason_and_resumes_with_the_one_action(
    api: Api, db: AsyncEngine, settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    emails = await add_readers(db, 6)
    for email in emails[:3]:  # the first batch (3 rows) is refused
        smtp_server.handler.fail_rcpt[email] = "554 5.7.1 rejected as spam"
    campaign_id = await start(api)
    await run_worker(settings, burst=True, options=PAUSING)

    body = await wait_for_pause(api, campaign_id)
    assert body["pause_reason"].startswith("3 of 3 deliveries failed")
    assert body["counts"] == {"recipients": 6, "sent": 0, "failed": 3, "queued": 3}
    assert smtp_server.messages == []
    listed = (await api.get("/api/campaigns")).json()["items"]
    assert [item["status"] for item in listed if item["id"] == campaign_id] == ["paused"]
    again = await api.post(f"/api/campaigns/{campaign_id}/pause")
    assert again.status_code == 409 and again.json()["errors"] == {"status": "paused"}

    # Staff fix the cause and resume: the rest goes out, the campaign is sent.
    smtp_server.handler.fail_rcpt.clear()
    resumed = await api.post(f"/api/campaigns/{campaign_id}/resume")
    assert resumed.status_code == 202, resumed.text
    assert (resumed.json()["status"], resumed.json()["pause_reason"]) == ("sending", None)
    await run_worker(settings, burst=True, options=PAUSING)

    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == sorted(emails[3:])
    await wait_for_status(api, campaign_id, "sent")
    body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert body["counts"] == {"recipients": 6, "sent": 3, "failed": 3, "queued": 0}
    assert body["pause_reason"] is None


async def test_staff_pause_has_no_reason(api: Api, db: AsyncEngine, redis: Redis) -> None:
    await add_readers(db, 2)
    campaign_id = await start(api)
    paused = await api.post(f"/api/campaigns/{campaign_id}/pause")
    assert (paused.json()["status"], paused.json()["pause_reason"]) == ("paused", None)


async def test_mailer_pause_while_the_campaigns_service_is_down_is_applied_at_start(
    settings: Settings,
    live_server: Any,
    db: AsyncEngine,
    smtp_server: RecordingSMTPServer,
    redis: Redis,
) -> None:
    await seed_demo(settings)
    token = await create_token(settings, "editor", "test editor")
    headers = {"Authorization": f"Bearer {token}"}
    emails = await add_readers(db, 6)
    for email in emails[:3]:
        smtp_server.handler.fail_rcpt[email] = "554 5.7.1 rejected as spam"
    async with (
        live_server(app_for(create_app, settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20, headers=headers) as client,
    ):
        api = Api(client, {"editor": token, "viewer": token})
        campaign_id = await start(api)
    # The service is down while the mailer stops the campaign.
    await run_worker(settings, burst=True, options=PAUSING)
    async with db.connect() as conn:
        status = await conn.scalar(
            sa.select(campaigns.c.status).where(campaigns.c.id == campaign_id)
        )
    assert status == "sending"

    async with (
        live_server(app_for(create_app, settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20, headers=headers) as client,
    ):
        api = Api(client, {"editor": token, "viewer": token})
        body = await wait_for_pause(api, campaign_id)
        assert body["pause_reason"].startswith("3 of 3 deliveries failed")
    assert await redis.xpending(CAMPAIGN_EVENTS_STREAM, CAMPAIGN_EVENTS_GROUP) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }


async def test_resume_with_redis_down_is_503_and_keeps_the_mailers_reason(
    settings: Settings, live_server: Any, db: AsyncEngine, redis: Redis
) -> None:
    await seed_demo(settings)
    token = await create_token(settings, "editor", "test editor")
    app = app_for(create_app, settings)
    async with (
        live_server(app) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=20
        ) as client,
    ):
        api = Api(client, {"editor": token, "viewer": token})
        campaign_id = await start(api)
        async with db.begin() as conn:  # as the mailer's event leaves it
            await conn.execute(
                sa.update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(status="paused", pause_reason="3 of 3 deliveries failed")
            )
        working = app.state.jobs
        # A client for a port nobody listens on: every command fails to connect.
        app.state.jobs = ArqRedis(host="127.0.0.1", port=free_port())
        try:
            response = await api.post(f"/api/campaigns/{campaign_id}/resume")
            assert response.status_code == 503, response.text
        finally:
            await app.state.jobs.aclose()
            app.state.jobs = working
        body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
        assert (body["status"], body["pause_reason"]) == ("paused", "3 of 3 deliveries failed")
