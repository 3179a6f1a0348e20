"""What a hard bounce or a complaint reported by the mailer means for a subscriber.

The mailer reads bounces (DSNs, ARF reports, provider webhooks) but may not write this
service's tables, so it enqueues ``record_delivery_problem`` with a DeliveryProblem payload:

* a hard bounce: the address is dead. The subscriber's status becomes ``bounced``, which stops
  campaigns (the mailer's audience takes only ``active`` subscribers), confirmation mails and
  confirmations (sign-up answers as always and sends nothing). The subscriptions themselves are
  kept: a bounce is not the resident withdrawing consent, so no consent event is recorded.
* a complaint: the resident told their mailbox provider "this is spam". That is a withdrawal:
  every subscription ends, with a ``withdrawn`` consent event (form ``complaint``) per list.

Both are audited (actor ``system``) without personal data, and both are idempotent: a report
that arrives twice (over SMTP and a webhook, or a re-run job) changes nothing the second time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import structlog
from arq.worker import Function, Retry
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import audit, queries
from services.subscriptions.enrolment import withdraw
from services.subscriptions.runtime import worker_runtime
from shared.contracts import DeliveryProblem
from shared.jobs import job_function
from shared.queues import RECORD_DELIVERY_PROBLEM
from shared.statuses import SubscriberStatus

log = structlog.get_logger(__name__)


async def record_delivery_problem(session: AsyncSession, problem: DeliveryProblem) -> int:
    """Apply a hard bounce or complaint to its subscriber; return how many rows changed."""
    async with session.begin():
        subscriber = await queries.get_subscriber_by_id(session, problem.subscriber_id)
        if subscriber is None:  # erased or purged since the mail left
            return 0
        now = datetime.now(UTC)
        if problem.kind == "hard_bounce":
            changed = await _stop_bounced(session, subscriber, problem, now)
        else:
            left = await withdraw(
                session,
                subscriber,
                None,
                via="complaint",
                actor=audit.SYSTEM,
                campaign_id=problem.campaign_id,
                now=now,
            )
            changed = len(left)
    log.info(
        "delivery_problem.recorded",
        kind=problem.kind,
        subscriber=subscriber.key,
        campaign=problem.campaign_id,
        changed=changed,
    )
    return changed


async def _stop_bounced(
    session: AsyncSession,
    subscriber: queries.SubscriberRow,
    problem: DeliveryProblem,
    now: datetime,
) -> int:
    changed = await queries.change_subscriber_status(
        session, subscriber.id, old=SubscriberStatus.ACTIVE, new=SubscriberStatus.BOUNCED, now=now
    )
    if not changed:
        return 0
    await audit.record(
        session,
        actor=audit.SYSTEM,
        action=audit.BOUNCED,
        email=subscriber.email,
        # The code, never the description: diagnostics often quote the address.
        details={"campaign_id": problem.campaign_id, "code": problem.code},
        now=now,
    )
    return 1


async def record_delivery_problem_job(ctx: dict[str, Any], problem: DeliveryProblem) -> int:
    """arq job: a hard bounce or complaint reported by the mailer."""
    try:
        async with worker_runtime(ctx).sessions() as session:
            return await record_delivery_problem(session, problem)
    except SQLAlchemyError as exc:
        # The database is away for a moment: arq runs the job again later (max_tries).
        log.warning("delivery_problem.store_failed", error=type(exc).__name__)
        raise Retry(defer=ctx.get("job_try", 1) * 10) from exc


DELIVERY_PROBLEM_JOBS: Final[tuple[Function, ...]] = (
    # Idempotent, so arq may run it again after a worker crash or a database hiccup.
    job_function(RECORD_DELIVERY_PROBLEM, record_delivery_problem_job, max_tries=5),
)
