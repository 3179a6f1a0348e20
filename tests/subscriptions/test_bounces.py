"""Hard bounces and complaints reported by the mailer, run by the subscriptions worker."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from arq.jobs import SerializationError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions import worker
from shared.contracts import DeliveryProblem, DeliveryProblemKind
from shared.jobs import create_job_pool, enqueue
from shared.queues import RECORD_DELIVERY_PROBLEM, SUBSCRIPTIONS_QUEUE
from shared.settings import Settings
from tests.subscriptions.conftest import all_subscriptions, queued_mails, subscribe_json
from tests.subscriptions.residents import audit_rows, consent_rows, sign_up, subscriber_rows


async def _report(
    settings: Settings, subscriber_id: int, kind: DeliveryProblemKind, campaign_id: int = 7
) -> None:
    """Enqueue the job as the mailer does and run the worker until the queue is empty."""
    problem = DeliveryProblem(
        subscriber_id=subscriber_id,
        campaign_id=campaign_id,
        kind=kind,
        code=550,
        description="550 5.1.1 <maja@example.org>: user unknown",
        at=datetime.now(UTC),
    )
    pool = await create_job_pool(settings.redis_url, SUBSCRIPTIONS_QUEUE)
    try:
        await enqueue(pool, RECORD_DELIVERY_PROBLEM, problem)
    finally:
        await pool.aclose()
    await worker.run_worker(settings, burst=True)


async def test_hard_bounce_stops_the_subscriber_without_withdrawing_consent(
    settings: Settings,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
) -> None:
    await sign_up(client, redis, email="maja@example.org", lists=["kultur", "musik"])
    [subscriber] = await subscriber_rows(engine)
    consent_before = await consent_rows(engine)

    await _report(settings, subscriber["id"], "hard_bounce")
    await _report(settings, subscriber["id"], "hard_bounce", campaign_id=8)  # again: no change

    [bounced] = await subscriber_rows(engine)
    assert bounced["status"] == "bounced"
    # A bounce is not a withdrawal: subscriptions and consent history stay as they were.
    assert {row["status"] for row in (await all_subscriptions(engine)).values()} == {"confirmed"}
    assert await consent_rows(engine) == consent_before
    [entry] = [row for row in await audit_rows(engine) if row["action"] == "bounced"]
    assert entry["actor"] == "system"
    assert entry["details"] == {"campaign_id": 7, "code": 550}
    assert "maja" not in str(entry)


async def test_a_bounced_address_signing_up_gets_the_same_answer_and_no_mail(
    settings: Settings,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
) -> None:
    await sign_up(client, redis, email="maja@example.org", lists=["kultur"], confirm=False)
    [subscriber] = await subscriber_rows(engine)
    await _report(settings, subscriber["id"], "hard_bounce")

    again = await subscribe_json(client, email="maja@example.org", lists=["kultur", "musik"])
    assert await queued_mails(redis) == []
    fresh = await subscribe_json(client, email="sofie@example.org", lists=["kultur", "musik"])

    assert (again.status_code, again.text) == (fresh.status_code, fresh.text)
    assert len(await queued_mails(redis)) == 1  # only the fresh address got a confirmation
    # The old confirmation link does nothing for a bounced subscriber either.
    assert (await all_subscriptions(engine))[lists["kultur"]]["status"] == "pending"


async def test_complaint_unsubscribes_from_every_list_with_a_withdrawal(
    settings: Settings,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
) -> None:
    await sign_up(client, redis, email="maja@example.org", lists=["kultur", "musik", "born"])
    [subscriber] = await subscriber_rows(engine)

    await _report(settings, subscriber["id"], "complaint")
    await _report(settings, subscriber["id"], "complaint", campaign_id=8)  # again: no change

    subscriptions = await all_subscriptions(engine)
    assert {row["status"] for row in subscriptions.values()} == {"unsubscribed"}
    withdrawn = [row for row in await consent_rows(engine) if row["event"] == "withdrawn"]
    assert sorted(row["list_id"] for row in withdrawn) == sorted(subscriptions)
    assert {row["form"] for row in withdrawn} == {"complaint"}
    [entry] = [row for row in await audit_rows(engine) if row["action"] == "unsubscribed"]
    assert (entry["actor"], entry["details"]) == (
        "system",
        {"via": "complaint", "campaign_id": 7, "lists": 3},
    )
    [still] = await subscriber_rows(engine)
    assert still["status"] == "active"  # the address works; the resident just wants no mail


async def test_unknown_subscriber_and_bad_payload_change_nothing(
    settings: Settings, engine: AsyncEngine, redis: Redis
) -> None:
    await _report(settings, 424242, "hard_bounce")
    pool = await create_job_pool(settings.redis_url, SUBSCRIPTIONS_QUEUE)
    try:
        job = await pool.enqueue_job(RECORD_DELIVERY_PROBLEM.name, {"kind": "nonsense"})
        await worker.run_worker(settings, burst=True)
        assert job is not None
        # A payload that breaks the contract fails the job for good, saying why.
        with pytest.raises(SerializationError, match="InvalidJobPayload: record_delivery_problem"):
            await job.result(timeout=5)
        info = await job.result_info()
        assert info is not None and (info.success, info.job_try) == (False, 1)
    finally:
        await pool.aclose()
    assert await audit_rows(engine) == []
