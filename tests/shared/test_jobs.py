"""Enqueueing, job functions and results, against a real Redis and a burst arq worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port
from shared import jobs
from shared.contracts import BatchResult, StartCampaign
from shared.errors import QueueUnavailable
from shared.events import StreamEntry
from shared.job_spec import JobSpec
from shared.jobs import (
    create_job_pool,
    deserialize_job,
    enqueue,
    enqueue_many,
    enqueue_within_limit,
    job_function,
    job_result,
    redis_settings,
    serialize_job,
)
from shared.rate_limit import AttemptWindow

QUEUE = "brevdue:queue:test-jobs"
# A job of the tests' own, so that no service's worker is involved.
COUNT = JobSpec(
    name="count",
    queue=QUEUE,
    payload=StartCampaign,
    result=BatchResult,
    id_template="count:{campaign_id}",
)
handled: list[StartCampaign] = []


async def count(_ctx: dict[str, Any], payload: StartCampaign) -> BatchResult:
    """The handler under test: it sees only validated payloads."""
    handled.append(payload)
    return BatchResult(sent=payload.campaign_id)


@pytest.fixture
async def pool(redis: Redis, redis_url: str) -> AsyncIterator[ArqRedis]:
    handled.clear()
    client = await create_job_pool(redis_url, QUEUE)
    yield client
    await client.aclose()


async def run_burst(redis_url: str) -> None:
    worker = Worker(
        [job_function(COUNT, count, max_tries=5, keep_result=60)],
        queue_name=QUEUE,
        redis_settings=redis_settings(redis_url),
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_a_job_runs_once_per_id_and_hands_back_its_typed_result(
    pool: ArqRedis, redis_url: str
) -> None:
    job = await enqueue(pool, COUNT, StartCampaign(campaign_id=3))
    assert job is not None and job.job_id == "count:3"
    assert await enqueue(pool, COUNT, StartCampaign(campaign_id=3)) is None  # already queued
    await run_burst(redis_url)
    assert handled == [StartCampaign(campaign_id=3)]
    assert await job_result(job, COUNT, 5) == BatchResult(sent=3)


async def test_many_jobs_in_one_pipeline_run_once_per_id(pool: ArqRedis, redis_url: str) -> None:
    assert await enqueue(pool, COUNT, StartCampaign(campaign_id=1)) is not None
    payloads = [StartCampaign(campaign_id=n) for n in (1, 2, 3)]
    # The id arq already knows is skipped, as enqueue would skip it; the others are added.
    assert await enqueue_many(pool, COUNT, payloads) == 2
    assert await enqueue_many(pool, COUNT, payloads) == 0
    await run_burst(redis_url)
    assert sorted(p.campaign_id for p in handled) == [1, 2, 3]
    # Kept results count as known too, as with arq's enqueue_job.
    assert await enqueue_many(pool, COUNT, [StartCampaign(campaign_id=4), *payloads]) == 1


async def test_many_jobs_to_an_unreachable_redis_are_reported_as_unavailable() -> None:
    refused = ArqRedis(host="127.0.0.1", port=free_port(), job_serializer=serialize_job)
    try:
        with pytest.raises(QueueUnavailable, match="cannot be reached"):
            await enqueue_many(refused, COUNT, [StartCampaign(campaign_id=8)])
    finally:
        await refused.aclose()


async def test_a_job_is_stored_as_arq_stores_it_and_refused_while_its_result_is_kept(
    pool: ArqRedis, redis: Redis, redis_url: str
) -> None:
    # Enqueued by one script: the job arq would write (function, payload, expiry, queue score),
    # and after a SCRIPT FLUSH the script is sent again by its text.
    await redis.script_flush()
    job = await enqueue(pool, COUNT, StartCampaign(campaign_id=6))
    assert job is not None
    info = await job.info()
    assert info is not None
    assert (info.function, list(info.args)) == (COUNT.name, [{"campaign_id": 6}])
    assert 0 < await redis.pttl(f"arq:job:{job.job_id}") <= pool.expires_extra_ms
    assert await redis.zscore(QUEUE, job.job_id) == round(info.enqueue_time.timestamp() * 1000)
    await run_burst(redis_url)
    assert handled == [StartCampaign(campaign_id=6)]
    # The job is done and its result kept: the same id is not queued again.
    assert await enqueue(pool, COUNT, StartCampaign(campaign_id=6)) is None
    assert await redis.zcard(QUEUE) == 0


async def test_a_bad_payload_fails_the_job_for_good(pool: ArqRedis, redis_url: str) -> None:
    job = await pool.enqueue_job(COUNT.name, {"campaign_id": "three"}, _queue_name=QUEUE)
    assert job is not None
    await run_burst(redis_url)
    assert handled == []
    info = await job.result_info()
    assert info is not None
    # Failed on its first try and not run again, although the function allows five.
    assert (info.success, info.job_try) == (False, 1)
    assert str(info.result).startswith("InvalidJobPayload: count: Expected `int`")
    with pytest.raises(QueueUnavailable, match="the job did not finish"):
        await job_result(job, COUNT, 5)


async def test_a_result_that_breaks_the_contract_is_refused(pool: ArqRedis, redis_url: str) -> None:
    other = JobSpec(
        name=COUNT.name,
        queue=QUEUE,
        payload=StartCampaign,
        result=StartCampaign,  # not what the handler returns
        id_template="count:{campaign_id}",
    )
    job = await enqueue(pool, other, StartCampaign(campaign_id=4))
    assert job is not None
    await run_burst(redis_url)
    with pytest.raises(QueueUnavailable, match="unexpected answer"):
        await job_result(job, other, 5)


async def test_no_worker_means_no_answer(pool: ArqRedis) -> None:
    job = await enqueue(pool, COUNT, StartCampaign(campaign_id=5))
    assert job is not None
    with pytest.raises(QueueUnavailable, match="no worker answered in time"):
        await job_result(job, COUNT, 0.2)


async def test_an_unreachable_redis_is_reported_as_unavailable() -> None:
    refused = ArqRedis(host="127.0.0.1", port=free_port(), job_serializer=serialize_job)
    try:
        with pytest.raises(QueueUnavailable, match="cannot be reached") as caught:
            await enqueue(refused, COUNT, StartCampaign(campaign_id=6))
    finally:
        await refused.aclose()
    assert caught.value.job == COUNT.name


async def test_a_hung_redis_is_reported_as_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    async def swallow(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the connection and never answers

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(jobs, "ENQUEUE_TIMEOUT", 0.2)
    hung = ArqRedis(host="127.0.0.1", port=port, job_serializer=serialize_job)
    try:
        with pytest.raises(QueueUnavailable, match="cannot be reached"):
            await enqueue(hung, COUNT, StartCampaign(campaign_id=7))
    finally:
        await hung.aclose()
        server.close()


async def test_a_job_within_a_limit_is_counted_enqueued_and_announced_in_one_script(
    pool: ArqRedis, redis: Redis, redis_url: str
) -> None:
    await redis.script_flush()  # the script is sent by its text when Redis does not hold it
    window = AttemptWindow(pool, "test-jobs", limit=2, window=60)
    stream = "brevdue:stream:test-jobs"
    entry = StreamEntry(stream, b"payload", b"first", 10)
    decision, queued = await enqueue_within_limit(
        pool, COUNT, StartCampaign(campaign_id=1), limit=window, key="k", entry=entry
    )
    assert decision.allowed and queued
    # The id is taken: counted, announced, not queued twice.
    decision, queued = await enqueue_within_limit(
        pool, COUNT, StartCampaign(campaign_id=1), limit=window, key="k"
    )
    assert decision.allowed and not queued
    # Over the limit: refused with the time to wait, not queued, the entry appended all the same.
    entry = StreamEntry(stream, b"payload", b"third", 10)
    decision, queued = await enqueue_within_limit(
        pool, COUNT, StartCampaign(campaign_id=2), limit=window, key="k", entry=entry
    )
    assert not decision.allowed and not queued
    assert 1 <= decision.retry_after <= 60
    assert [fields for _id, fields in await redis.xrange(stream)] == [
        {b"payload": b"first"},
        {b"payload": b"third"},
    ]
    # Another key has its own allowance; the hit counted as AttemptWindow.hit counts it.
    assert (await window.hit("other")).allowed
    assert not (await window.hit("k")).allowed
    await run_burst(redis_url)
    assert handled == [StartCampaign(campaign_id=1)]


async def test_a_job_within_a_limit_to_an_unreachable_redis_is_unavailable() -> None:
    refused = ArqRedis(host="127.0.0.1", port=free_port(), job_serializer=serialize_job)
    window = AttemptWindow(refused, "test-jobs", limit=2, window=60)
    try:
        with pytest.raises(QueueUnavailable, match="cannot be reached"):
            await enqueue_within_limit(
                refused, COUNT, StartCampaign(campaign_id=9), limit=window, key="k"
            )
    finally:
        await refused.aclose()
