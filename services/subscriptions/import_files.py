"""Running an import from a file on this machine, and the report of its rejected lines.

The command line runs imports in its own process through here; the worker runs those staff
upload (worker.py). Either way the import is this service's code writing its own tables.
"""

from __future__ import annotations

import csv
from typing import IO, Final

from services.subscriptions import queries
from services.subscriptions.i18n import load_translations
from services.subscriptions.imports import CONFIRM, ImportRequest, Progress, run_import
from services.subscriptions.outbox import Outbox
from services.subscriptions.pages import Renderer
from services.subscriptions.queries import ImportRow, RejectRow
from shared.db import create_engine, create_sessionmaker
from shared.jobs import create_job_pool
from shared.queues import TRANSACTIONAL_QUEUE
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner

REJECTS_HEADER: Final = ("line", "field", "problem", "detail")


async def import_file(
    settings: Settings,
    request: ImportRequest,
    binary: IO[bytes],
    *,
    progress: Progress | None = None,
) -> ImportRow:
    """Run (or continue) an import of ``binary`` with its own engine and, for double opt-in,
    its own connection to the mail queue."""
    engine = create_engine(settings.database_url)
    jobs = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    try:
        outbox = None
        if request.mode == CONFIRM:
            signer = TokenSigner(
                settings.secret_keys, {Purpose.CONFIRM: settings.confirm_token_max_age}
            )
            outbox = Outbox(jobs, signer, Renderer(load_translations()), settings)
        return await run_import(
            create_sessionmaker(engine), request, binary, outbox=outbox, progress=progress
        )
    finally:
        await jobs.aclose()
        await engine.dispose()


async def write_rejects(settings: Settings, key: str, out: IO[str]) -> int:
    """Write the rejected lines of the import ``key`` as CSV; return how many were written."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            job = await queries.get_import(session, key)
            if job is None:
                return 0
            writer = csv.writer(out)
            writer.writerow(REJECTS_HEADER)
            written = 0
            async for row in queries.stream_rejects(session, job.id):
                writer.writerow(reject_cells(row))
                written += 1
            return written
    finally:
        await engine.dispose()


def reject_cells(row: RejectRow) -> tuple[int, str, str, str]:
    """One rejected line as the report's cells."""
    return (row.line, row.field, row.problem, row.detail or "")
