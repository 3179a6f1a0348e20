"""arq jobs for staff data requests, run by the subscriptions worker (see worker.py).

The campaigns service enqueues them on SUBSCRIPTIONS_QUEUE: it may read subscribers but never
writes this service's tables, and the audit log must record who asked.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import structlog
from arq.worker import Function, func

from services.subscriptions import gdpr
from services.subscriptions.i18n import load_translations
from services.subscriptions.pages import Renderer
from shared.contracts import SubscriberRequest, from_job_arg
from shared.queues import JOB_ERASE_SUBSCRIBER, JOB_EXPORT_SUBSCRIBER

log = structlog.get_logger(__name__)

# An export result is personal data: keep it in Redis only long enough for the caller, who
# also deletes it once read.
EXPORT_RESULT_SECONDS: Final = 60


async def export_subscriber_job(ctx: dict[str, Any], payload: Any) -> dict[str, Any]:
    """arq job: everything stored about an address, for staff (recorded in the audit log)."""
    try:
        request = from_job_arg(SubscriberRequest, payload)
    except msgspec.ValidationError:
        log.warning("gdpr.export_job.invalid_payload")
        return {"error": "invalid_payload"}
    async with ctx["sessionmaker"]() as session:
        return await gdpr.staff_export(
            session, request.email, actor=request.actor, renderer=_renderer(ctx)
        )


async def erase_subscriber_job(ctx: dict[str, Any], payload: Any) -> dict[str, Any]:
    """arq job: erase an address for staff (suppressed, audited, goodbye mail sent)."""
    try:
        request = from_job_arg(SubscriberRequest, payload)
    except msgspec.ValidationError:
        log.warning("gdpr.erase_job.invalid_payload")
        return {"error": "invalid_payload"}
    async with ctx["sessionmaker"]() as session:
        result = await gdpr.staff_erase(
            session, request.email, actor=request.actor, jobs=ctx["jobs"], renderer=_renderer(ctx)
        )
    log.info("gdpr.erase_job.done", actor=request.actor, request=request.request_id, **result)
    return result


def _renderer(ctx: dict[str, Any]) -> Renderer:
    renderer = ctx.get("renderer")
    if not isinstance(renderer, Renderer):
        renderer = ctx["renderer"] = Renderer(load_translations())
    return renderer


GDPR_JOBS: Final[tuple[Function, ...]] = (
    func(
        export_subscriber_job,
        name=JOB_EXPORT_SUBSCRIBER,
        max_tries=1,
        keep_result=EXPORT_RESULT_SECONDS,
    ),
    # Erasure is idempotent (a second run finds nothing and keeps the suppression), so arq
    # may run it again after a worker crash.
    func(erase_subscriber_job, name=JOB_ERASE_SUBSCRIBER, max_tries=5),
)
