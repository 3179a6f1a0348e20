"""arq jobs for staff data requests, run by the subscriptions worker (see worker.py).

The campaigns service enqueues them on SUBSCRIPTIONS_QUEUE: it may read subscribers but never
writes this service's tables, and the audit log must record who asked.
"""

from __future__ import annotations

from typing import Any, Final

import structlog
from arq.worker import Function

from services.subscriptions import gdpr
from services.subscriptions.runtime import worker_runtime
from shared.contracts import ErasureReport, SubscriberExport, SubscriberRequest
from shared.jobs import job_function
from shared.queues import ERASE_SUBSCRIBER, EXPORT_SUBSCRIBER

log = structlog.get_logger(__name__)

# An export result is personal data: keep it in Redis only long enough for the caller, who
# also deletes it once read.
EXPORT_RESULT_SECONDS: Final = 60


async def export_subscriber_job(
    ctx: dict[str, Any], request: SubscriberRequest
) -> SubscriberExport:
    """arq job: everything stored about an address, for staff (recorded in the audit log)."""
    runtime = worker_runtime(ctx)
    async with runtime.sessions() as session:
        return await gdpr.staff_export(
            session, request.email, actor=request.actor, renderer=runtime.renderer
        )


async def erase_subscriber_job(ctx: dict[str, Any], request: SubscriberRequest) -> ErasureReport:
    """arq job: erase an address for staff (suppressed, audited, goodbye mail sent)."""
    runtime = worker_runtime(ctx)
    async with runtime.sessions() as session:
        result = await gdpr.staff_erase(
            session,
            request.email,
            actor=request.actor,
            jobs=runtime.mail_jobs,
            renderer=runtime.renderer,
        )
    log.info(
        "gdpr.erase_job.done",
        actor=request.actor,
        request=request.request_id,
        **ERASE_SUBSCRIBER.encode_result(result),
    )
    return result


GDPR_JOBS: Final[tuple[Function, ...]] = (
    job_function(
        EXPORT_SUBSCRIBER,
        export_subscriber_job,
        max_tries=1,
        keep_result=EXPORT_RESULT_SECONDS,
    ),
    # Erasure is idempotent (a second run finds nothing and keeps the suppression), so arq
    # may run it again after a worker crash.
    job_function(ERASE_SUBSCRIBER, erase_subscriber_job, max_tries=5),
)
