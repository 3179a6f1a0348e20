"""The arq job that imports a file staff uploaded in the staff app (run by worker.py).

The campaigns service keeps the upload in Redis (shared/import_uploads.py) and enqueues the
job; here the file is copied chunk by chunk into a temporary file and imported. A crash or a
stop is no loss: arq runs the job again and the import continues after its last batch.
"""

from __future__ import annotations

import tempfile
from typing import Any, Final

import structlog
from arq.worker import Function

from services.subscriptions.imports import (
    ATTESTED,
    Attestation,
    ImportRefused,
    ImportRequest,
    run_import,
)
from services.subscriptions.outbox import Outbox
from services.subscriptions.runtime import worker_runtime
from shared.contracts import ImportSubscribers
from shared.import_uploads import drop_upload, upload_chunks
from shared.jobs import job_function
from shared.queues import IMPORT_SUBSCRIBERS
from shared.tokens import Purpose, TokenSigner

log = structlog.get_logger(__name__)

# Double opt-in mail is paced (imports.CONFIRMATIONS_PER_MINUTE), so a large confirm import
# runs for hours; an attested one takes minutes (bench/README.md).
IMPORT_TIMEOUT: Final = 6 * 3600
# After a crash arq runs the job again; each run continues the import.
IMPORT_TRIES: Final = 5


def import_request(job: ImportSubscribers) -> ImportRequest:
    """The import a job asks for."""
    attestation = None
    if job.mode == ATTESTED:
        attestation = Attestation(
            basis=job.consent_basis or "",
            collected=job.consent_collected or "",
            method=job.consent_method or "",
            attested_by=job.attested_by or "",
        )
    return ImportRequest(
        key=job.key,
        list_slug=job.list_slug,
        actor=job.actor,
        mode=job.mode,
        attestation=attestation,
        update_existing=job.update_existing,
        default_language=job.default_language,
        columns=job.columns,
    )


async def import_subscribers_job(ctx: dict[str, Any], job: ImportSubscribers) -> str:
    """arq job: import an uploaded file; return the import's state (or why it was refused)."""
    runtime = worker_runtime(ctx)
    redis = runtime.mail_jobs
    settings = runtime.settings
    signer = TokenSigner(settings.secret_keys, {Purpose.CONFIRM: settings.confirm_token_max_age})
    outbox = Outbox(redis, signer, runtime.renderer, settings)
    with tempfile.TemporaryFile() as spool:
        async for chunk in upload_chunks(redis, job.key):
            spool.write(chunk)
        spool.seek(0)
        try:
            result = await run_import(runtime.sessions, import_request(job), spool, outbox=outbox)
        except ImportRefused as exc:
            # Checked by the staff app before; a file gone from Redis ends here too.
            log.warning("import.refused", key=job.key, problems=exc.problems)
            return "refused: " + ", ".join(f"{k} {v}" for k, v in exc.problems.items())
    await drop_upload(redis, job.key)
    return result.state


IMPORT_JOBS: Final[tuple[Function, ...]] = (
    job_function(
        IMPORT_SUBSCRIBERS, import_subscribers_job, max_tries=IMPORT_TRIES, timeout=IMPORT_TIMEOUT
    ),
)
