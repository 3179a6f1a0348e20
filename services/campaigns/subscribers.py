"""Staff requests about one resident's data: export (answered directly) and erasure (queued).

Both run in the subscriptions service, which owns the data and the audit log: this service
only enqueues jobs on SUBSCRIPTIONS_QUEUE. An export waits for the job's result (a few
hundred milliseconds when the subscriptions worker runs); an erasure is accepted at once.
"""

from __future__ import annotations

import contextlib
from typing import Final
from uuid import uuid4

import msgspec
from arq.connections import ArqRedis
from arq.constants import result_key_prefix
from email_validator import EmailNotValidError, validate_email
from redis.exceptions import RedisError

from services.campaigns.accounts import StaffAccount
from services.campaigns.auth import StaffToken
from services.campaigns.errors import N_, InvalidInput
from shared.contracts import SubscriberExport, SubscriberRequest
from shared.errors import QueueUnavailable
from shared.jobs import enqueue, job_result
from shared.queues import ERASE_SUBSCRIBER, EXPORT_SUBSCRIBER

EXPORT_TIMEOUT: Final = 15.0  # seconds the request waits for the subscriptions worker
MAX_EMAIL: Final = 320


class SubscriberAddress(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of an export or erase request."""

    email: str


class ErasureAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """An erasure request handed to the subscriptions worker."""

    status: str
    request_id: str


def _checked(body: SubscriberAddress) -> str:
    """The address, or InvalidInput naming the field."""
    if len(body.email) > MAX_EMAIL:
        raise InvalidInput(
            N_("invalid email"), {"email": f"must be at most {MAX_EMAIL} characters"}
        )
    try:
        validate_email(body.email.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput(N_("invalid email"), {"email": "is not a valid email address"}) from None
    return body.email.strip()


# Who asked, as the subscriptions service's audit log names staff: a token by its id, a user of
# the staff app as ``user:<id>``.
Requester = StaffToken | StaffAccount


def _request(email: str, requester: Requester) -> SubscriberRequest:
    who = f"user:{requester.id}" if isinstance(requester, StaffAccount) else str(requester.id)
    return SubscriberRequest(email=email, actor=f"staff:{who}", request_id=uuid4().hex)


async def request_erasure(
    jobs: ArqRedis, body: SubscriberAddress, token: Requester
) -> ErasureAccepted:
    """Queue the erasure of an address; the subscriptions worker does it and audits it."""
    request = _request(_checked(body), token)
    await enqueue(jobs, ERASE_SUBSCRIBER, request)
    return ErasureAccepted(status="queued", request_id=request.request_id)


async def export(
    jobs: ArqRedis, body: SubscriberAddress, token: Requester, wait: float | None = None
) -> SubscriberExport:
    """Everything stored about an address, produced (and audited) by the subscriptions worker."""
    wait = EXPORT_TIMEOUT if wait is None else wait
    request = _request(_checked(body), token)
    try:
        # Not started in time: dropped rather than exported for nobody later.
        job = await enqueue(jobs, EXPORT_SUBSCRIBER, request, expires=wait)
        if job is None:  # cannot happen with a fresh id; treat like an absent worker
            raise QueueUnavailable(EXPORT_SUBSCRIBER.name, "no worker answered in time")
        return await job_result(job, EXPORT_SUBSCRIBER, wait)
    finally:
        # The result holds personal data; it must not linger in Redis once read.
        with contextlib.suppress(RedisError, OSError):
            await jobs.delete(result_key_prefix + EXPORT_SUBSCRIBER.job_id(request))
