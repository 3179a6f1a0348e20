"""Staff requests about one resident's data: export (answered directly) and erasure (queued).

Both run in the subscriptions service, which owns the data and the audit log: this service
only enqueues jobs on SUBSCRIPTIONS_QUEUE. An export waits for the job's result (a few
hundred milliseconds when the subscriptions worker runs); an erasure is accepted at once.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final
from uuid import uuid4

import msgspec
from arq.connections import ArqRedis
from arq.constants import result_key_prefix
from email_validator import EmailNotValidError, validate_email
from redis.exceptions import RedisError

from services.campaigns.auth import StaffToken
from services.campaigns.errors import InvalidInput, Unavailable
from shared.contracts import SubscriberRequest, to_job_arg
from shared.queues import (
    JOB_ERASE_SUBSCRIBER,
    JOB_EXPORT_SUBSCRIBER,
    SUBSCRIPTIONS_QUEUE,
    erase_subscriber_job_id,
    export_subscriber_job_id,
)

EXPORT_TIMEOUT: Final = 15.0  # seconds the request waits for the subscriptions worker
MAX_EMAIL: Final = 320


class SubscriberAddress(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of an export or erase request."""

    email: str


class ErasureAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """An erasure request handed to the subscriptions worker."""

    status: str
    request_id: str


class SubscriberExport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything stored about an address, or found=false (suppressed: it was erased)."""

    found: bool
    suppressed: bool
    data: dict[str, Any] | None


def _checked(body: SubscriberAddress) -> str:
    """The address, or InvalidInput naming the field."""
    if len(body.email) > MAX_EMAIL:
        raise InvalidInput("invalid email", {"email": f"must be at most {MAX_EMAIL} characters"})
    try:
        validate_email(body.email.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput("invalid email", {"email": "is not a valid email address"}) from None
    return body.email.strip()


def _request(email: str, token: StaffToken) -> SubscriberRequest:
    return SubscriberRequest(email=email, actor=f"staff:{token.id}", request_id=uuid4().hex)


async def request_erasure(
    jobs: ArqRedis, body: SubscriberAddress, token: StaffToken
) -> ErasureAccepted:
    """Queue the erasure of an address; the subscriptions worker does it and audits it."""
    request = _request(_checked(body), token)
    try:
        await jobs.enqueue_job(
            JOB_ERASE_SUBSCRIBER,
            to_job_arg(request),
            _job_id=erase_subscriber_job_id(request.request_id),
            _queue_name=SUBSCRIPTIONS_QUEUE,
        )
    except (RedisError, OSError) as exc:
        raise Unavailable("the job queue cannot be reached; try again shortly") from exc
    return ErasureAccepted(status="queued", request_id=request.request_id)


async def export(
    jobs: ArqRedis, body: SubscriberAddress, token: StaffToken, wait: float | None = None
) -> SubscriberExport:
    """Everything stored about an address, produced (and audited) by the subscriptions worker."""
    wait = EXPORT_TIMEOUT if wait is None else wait
    request = _request(_checked(body), token)
    job_id = export_subscriber_job_id(request.request_id)
    try:
        job = await jobs.enqueue_job(
            JOB_EXPORT_SUBSCRIBER,
            to_job_arg(request),
            _job_id=job_id,
            _queue_name=SUBSCRIPTIONS_QUEUE,
            # Not started in time: drop it rather than export for nobody later.
            _expires=wait,
        )
        if job is None:  # cannot happen with a fresh id; treat like an absent worker
            raise TimeoutError
        result = await job.result(timeout=wait, poll_delay=0.1)
    except TimeoutError as exc:
        raise Unavailable("the subscriptions worker did not answer; try again shortly") from exc
    except (RedisError, OSError) as exc:
        raise Unavailable("the job queue cannot be reached; try again shortly") from exc
    finally:
        # The result holds personal data; it must not linger in Redis once read.
        with contextlib.suppress(RedisError, OSError):
            await jobs.delete(result_key_prefix + job_id)
    try:
        return msgspec.convert(result, SubscriberExport)
    except msgspec.ValidationError as exc:
        raise Unavailable("the subscriptions worker gave an unexpected answer") from exc
