"""arq plumbing shared by every service: the serializer, pools, enqueueing and job functions."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Protocol, TypeVar

import msgspec
import structlog
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job, ResultNotFound, SerializationError
from arq.jobs import serialize_job as arq_job_bytes
from arq.utils import timestamp_ms, to_ms
from arq.worker import Function, func
from redis.exceptions import RedisError, WatchError

from shared.errors import InvalidJobPayload, QueueUnavailable
from shared.events import StreamEntry
from shared.job_spec import JobSpec
from shared.rate_limit import ATTEMPT_LUA, AttemptWindow, Decision, Script, decision, run_script

P = TypeVar("P", bound=msgspec.Struct)
R = TypeVar("R")

log = structlog.get_logger(__name__)

# Seconds an enqueue may take: a hung Redis must not hang a request or a job.
ENQUEUE_TIMEOUT: Final = 5.0


def _encode_other(value: Any) -> Any:
    # A failed job's result is its exception, which msgpack cannot hold: keep what it said, so
    # that whoever waits for the job learns why, instead of arq's "unable to serialize".
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    raise NotImplementedError(f"cannot serialize {type(value).__name__}")


# Jobs travel as msgpack instead of arq's default pickle, so write access to Redis cannot run
# code in a worker.
_encoder = msgspec.msgpack.Encoder(enc_hook=_encode_other)
_decoder = msgspec.msgpack.Decoder()


def serialize_job(data: dict[str, Any]) -> bytes:
    """arq job serializer: msgpack."""
    return _encoder.encode(data)


def deserialize_job(data: bytes) -> dict[str, Any]:
    """arq job deserializer: msgpack."""
    value = _decoder.decode(data)
    if not isinstance(value, dict):
        raise ValueError("a job must decode to a mapping")
    return value


def redis_settings(redis_url: str) -> RedisSettings:
    """arq connection settings from a redis:// URL.

    A connection may take as long to open as an enqueue may take in all (ENQUEUE_TIMEOUT), not
    arq's 1 s: with 1 s a worker that opened a connection while its host was busy failed the
    job it held with a connect timeout (seen in a loaded test run), and a failed job waits for
    its retry far longer than the slow connect would have taken."""
    return dataclasses.replace(RedisSettings.from_dsn(redis_url), conn_timeout=int(ENQUEUE_TIMEOUT))


async def create_job_pool(redis_url: str, default_queue_name: str) -> ArqRedis:
    """An arq pool that speaks Brevdue's job serializer."""
    return await create_pool(
        redis_settings(redis_url),
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        default_queue_name=default_queue_name,
    )


class JobQueue(Protocol):
    """The part of an arq pool that enqueueing uses."""

    async def enqueue_job(
        self,
        function: str,
        *args: Any,
        _job_id: str | None = None,
        _queue_name: str | None = None,
        _expires: float | None = None,
    ) -> Job | None:
        """Enqueue ``function`` with ``args``; None when a job with ``_job_id`` exists."""


# arq's enqueue_job in one round trip: arq WATCHes the job key, asks whether the job or its
# result exists, then sets both in MULTI/EXEC (three round trips, a connection held for them).
# A script runs atomically, so the same check-then-set needs no WATCH. Same keys, same job
# encoding, same answer when the id is taken: nothing written. A Lua function, so that
# scripts that enqueue as one step of more work (enqueue_within_limit) share it. Returns 1
# when enqueued, 0 when the id is taken.
ENQUEUE_LUA: Final = """
local function enqueue(job_key, result_key, queue, expiry, job, score, job_id)
  if redis.call('EXISTS', job_key, result_key) > 0 then return 0 end
  redis.call('PSETEX', job_key, expiry, job)
  redis.call('ZADD', queue, score, job_id)
  return 1
end
"""
# KEYS: job, result, queue. ARGV: expiry ms, job, score, job id.
_ENQUEUE: Final = Script(
    ENQUEUE_LUA + "return enqueue(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])\n"
)


def _job_script_values(
    jobs: ArqRedis,
    function: str,
    payload: Any,
    *,
    job_id: str,
    queue: str | None,
    expires: float | None,
) -> tuple[list[str], list[str | bytes | int]]:
    """The keys (job, result, queue) and the arguments (expiry ms, job, score, job id) of
    ``ENQUEUE_LUA``'s ``enqueue``: the job as arq writes it, without a deferral."""
    queue_name = queue or jobs.default_queue_name
    enqueued_at = timestamp_ms()
    job = arq_job_bytes(function, (payload,), {}, None, enqueued_at, serializer=jobs.job_serializer)
    keys = [job_key_prefix + job_id, result_key_prefix + job_id, queue_name]
    return keys, [to_ms(expires) or jobs.expires_extra_ms, job, enqueued_at, job_id]


async def _enqueue_job(
    jobs: ArqRedis,
    function: str,
    payload: Any,
    *,
    job_id: str,
    queue: str | None,
    expires: float | None,
) -> Job | None:
    """``jobs.enqueue_job(function, payload, _job_id=…, _queue_name=…, _expires=…)``, without a
    deferral, in one round trip."""
    keys, values = _job_script_values(
        jobs, function, payload, job_id=job_id, queue=queue, expires=expires
    )
    if not await run_script(jobs, _ENQUEUE, 3, *keys, *values):
        return None
    return Job(job_id, redis=jobs, _queue_name=keys[2], _deserializer=jobs.job_deserializer)


@asynccontextmanager
async def _reaching_the_queue(job: str, **details: object) -> AsyncIterator[None]:
    """The block's Redis work within ENQUEUE_TIMEOUT; a Redis that cannot be reached or is
    too slow becomes QueueUnavailable (the services answer 503)."""
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for runs the call as a task of its
        # own, which costs every sign-up more than the enqueue's own work.
        async with asyncio.timeout(ENQUEUE_TIMEOUT):
            yield
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("job.enqueue_failed", job=job, **details, error=repr(exc))
        raise QueueUnavailable(job, "the job queue cannot be reached") from exc


async def enqueue(
    jobs: JobQueue,
    spec: JobSpec[P, Any],
    payload: P,
    *,
    tag: str | None = None,
    expires: float | None = None,
) -> Job | None:
    """Enqueue ``spec`` with ``payload`` under its deterministic id; None when already queued.

    Raises QueueUnavailable when Redis cannot be reached or takes longer than ENQUEUE_TIMEOUT.
    """
    job_id = spec.job_id(payload, tag)
    async with _reaching_the_queue(spec.name):
        if isinstance(jobs, ArqRedis):
            return await _enqueue_job(
                jobs,
                spec.name,
                spec.encode(payload),
                job_id=job_id,
                queue=spec.queue,
                expires=expires,
            )
        return await jobs.enqueue_job(
            spec.name,
            spec.encode(payload),
            _job_id=job_id,
            _queue_name=spec.queue,
            _expires=expires,
        )


# KEYS: the limit's, job, result, queue, stream. ARGV: the attempt's window, limit and member;
# the job's expiry, job, score and id; the stream entry's maximum length, field and value
# (value '': no entry). Returns {milliseconds to wait (0: counted), 1 when enqueued}.
_ENQUEUE_WITHIN_LIMIT: Final = Script(
    ATTEMPT_LUA
    + ENQUEUE_LUA
    + """
local wait = attempt(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
local enqueued = 0
if wait == 0 then
  enqueued = enqueue(KEYS[2], KEYS[3], KEYS[4], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
end
if ARGV[10] ~= '' then
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[8], '*', ARGV[9], ARGV[10])
end
return {wait, enqueued}
"""
)


async def enqueue_within_limit(
    jobs: ArqRedis,
    spec: JobSpec[P, Any],
    payload: P,
    *,
    limit: AttemptWindow,
    key: str,
    entry: StreamEntry | None = None,
) -> tuple[Decision, bool]:
    """Count an attempt for ``key`` in ``limit`` and, if it is allowed, enqueue ``spec`` with
    ``payload`` under its deterministic id; append ``entry`` to its stream either way. One
    round trip, where ``limit.hit``, ``enqueue`` and an XADD take three. Returns the limit's
    decision and whether the job was enqueued (False: refused, or the id was taken).

    Raises QueueUnavailable as ``enqueue`` does.
    """
    job_keys, job_values = _job_script_values(
        jobs,
        spec.name,
        spec.encode(payload),
        job_id=spec.job_id(payload),
        queue=spec.queue,
        expires=None,
    )
    limit_key, *attempt = limit.attempt(key)
    stream, field, value, max_length = (
        (entry.stream, entry.field, entry.value, entry.max_length) if entry else ("", b"", b"", 0)
    )
    async with _reaching_the_queue(spec.name):
        reply = await run_script(
            jobs,
            _ENQUEUE_WITHIN_LIMIT,
            5,
            limit_key,
            *job_keys,
            stream or limit_key,  # a key for Redis's sake when there is no entry
            *attempt,
            *job_values,
            max_length,
            field,
            value,
        )
    assert isinstance(reply, list)
    wait_ms, enqueued = (int(str(value)) for value in reply)
    return decision(wait_ms), enqueued == 1


async def enqueue_many(
    jobs: JobQueue, spec: JobSpec[P, Any], payloads: Sequence[P], *, tag: str | None = None
) -> int:
    """Enqueue ``spec`` once per payload, as :func:`enqueue` does; return how many were new.

    On an arq pool in three round trips whatever their number (arq's enqueue_job batched:
    watch the job keys, skip the ids arq still knows, add the rest in one MULTI); anything
    else that enqueues, one job at a time. Raises QueueUnavailable as :func:`enqueue` does.
    """
    if not payloads:
        return 0
    if not isinstance(jobs, ArqRedis):
        return sum([await enqueue(jobs, spec, p, tag=tag) is not None for p in payloads])
    async with _reaching_the_queue(spec.name, jobs=len(payloads)):
        added = await _enqueue_pipelined(jobs, spec, payloads, tag)
    if added is None:  # one of the ids was enqueued meanwhile: arq's own way, job by job
        return sum([await enqueue(jobs, spec, p, tag=tag) is not None for p in payloads])
    return added


async def _enqueue_pipelined(
    pool: ArqRedis, spec: JobSpec[P, Any], payloads: Sequence[P], tag: str | None
) -> int | None:
    ids = [spec.job_id(payload, tag) for payload in payloads]
    async with pool.pipeline(transaction=True) as pipe:
        await pipe.watch(*(job_key_prefix + job_id for job_id in ids))
        async with pool.pipeline(transaction=False) as look:
            for job_id in ids:
                look.exists(job_key_prefix + job_id, result_key_prefix + job_id)
            known = await look.execute()
        now = timestamp_ms()
        pipe.multi()  # type: ignore[no-untyped-call]
        added = 0
        for job_id, payload, exists in zip(ids, payloads, known, strict=True):
            if exists:
                continue
            data = arq_job_bytes(
                spec.name, (spec.encode(payload),), {}, None, now, serializer=pool.job_serializer
            )
            pipe.psetex(job_key_prefix + job_id, pool.expires_extra_ms, data)
            pipe.zadd(spec.queue, {job_id: now})
            added += 1
        if not added:
            await pipe.reset()  # type: ignore[no-untyped-call]
            return 0
        try:
            await pipe.execute()
        except WatchError:
            return None
    return added


async def job_result(job: Job, spec: JobSpec[Any, R], wait: float) -> R:
    """Wait for a job's result and validate it; QueueUnavailable when there is none to use."""
    try:
        value = await job.result(timeout=wait, poll_delay=0.1)
    except TimeoutError as exc:
        raise QueueUnavailable(spec.name, "no worker answered in time") from exc
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(spec.name, "the job queue cannot be reached") from exc
    except (SerializationError, ResultNotFound) as exc:
        # The job failed (its reason is in the message) or expired before a worker took it.
        log.warning("job.failed", job=spec.name, error=str(exc)[:300])
        raise QueueUnavailable(spec.name, "the job did not finish") from exc
    try:
        return spec.decode_result(value)
    except msgspec.ValidationError as exc:
        raise QueueUnavailable(spec.name, "the worker gave an unexpected answer") from exc


Handler = Callable[[dict[str, Any], P], Awaitable[R]]


def job_function(
    spec: JobSpec[P, R],
    handler: Handler[P, R],
    *,
    max_tries: int | None = None,
    keep_result: float | None = None,
    timeout: float | None = None,
) -> Function:
    """The arq function for ``spec``: validates the payload, runs ``handler``, encodes its result.

    A payload that does not match the contract is logged and fails the job for good
    (InvalidJobPayload): running it again cannot make it valid.
    """

    async def run(ctx: dict[str, Any], payload: Any = None) -> Any:
        try:
            decoded = spec.decode(payload)
        except msgspec.ValidationError as exc:
            log.error(
                "job.invalid_payload", job=spec.name, job_id=ctx.get("job_id"), error=str(exc)
            )
            raise InvalidJobPayload(spec.name, str(exc)) from None
        return spec.encode_result(await handler(ctx, decoded))

    run.__qualname__ = run.__name__ = handler.__name__
    return func(run, name=spec.name, max_tries=max_tries, keep_result=keep_result, timeout=timeout)
