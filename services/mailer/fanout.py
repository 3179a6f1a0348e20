"""Fanning a campaign out: ledger rows for its audience, then deliver_batch jobs.

The audience is walked in windows of subscriber ids (``fanout_window`` wide, aligned on its
multiples), one transaction each, never held whole. A window's rows are written by the
database itself, one INSERT … SELECT with the Message-IDs computed in SQL, so no subscriber id
passes through Python on the way into the ledger; its new rows' ids come back to be cut into
batches, which go to Redis in one pipeline per window. Every step is idempotent, so a fan-out
that crashed half-way is simply run again: rows are inserted with ON CONFLICT DO NOTHING,
Message-IDs are derived from (campaign, subscriber), and batch job ids from the batch's rows
(see DELIVER_BATCH in shared/queues.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
import structlog
from arq.worker import Retry
from sqlalchemy.ext.asyncio import AsyncConnection

from services.mailer import mime, queries
from services.mailer.campaign_types import CampaignSource
from services.mailer.errors import CampaignNotFoundError, MailerError, UnsupportedAddressError
from services.mailer.resident_events import announce_sent
from services.mailer.runtime import MailerRuntime
from shared.campaign_templates import CampaignTemplateError
from shared.clock import utcnow
from shared.contracts import DeliverBatch
from shared.jobs import JobQueue, enqueue_many
from shared.queues import DELIVER_BATCH
from shared.segment_sql import Context
from shared.statuses import CampaignStatus
from shared.subject_tests import subject_for

log = structlog.get_logger(__name__)


async def enqueue_batches(
    jobs: JobQueue,
    campaign_id: int,
    delivery_ids: Sequence[int],
    size: int,
    *,
    tag: str | None = None,
) -> int:
    """Enqueue deliver_batch for ids cut into batches of ``size``, in one pipeline; return the
    number of batches. The same ids give the same batches, and so the same job ids."""
    step = max(1, size)
    batches = [
        DeliverBatch(campaign_id=campaign_id, delivery_ids=list(delivery_ids[i : i + step]))
        for i in range(0, len(delivery_ids), step)
    ]
    await enqueue_many(jobs, DELIVER_BATCH, batches, tag=tag)
    return len(batches)


async def start_campaign(runtime: MailerRuntime, jobs: JobQueue, campaign_id: int) -> int:
    """Write the campaign's ledger rows and enqueue their batches; return the recipient count.

    A subject test is fanned out twice by this job: first its sample only, each recipient
    with the subject ``shared.subject_tests`` gives them; once the campaigns service has
    picked the winner, the rest (the sample's rows are there already and are kept as they
    are, so nobody gets the campaign twice).
    """
    source, run, audience = await _begin(runtime, campaign_id)
    rest = source.test_winner is not None
    if run is not None and (run.fanned_out_at is not None or run.finished_at is not None):
        # Fan-out completed before (or the campaign failed): a late re-run must not add people
        # who joined since.
        return run.recipients
    try:
        # What every message needs: a sendable From address and templates that compile.
        # Its tracked links get their ids here, before any message is made.
        async with runtime.engine.begin() as conn:
            compiled = await runtime.campaigns.prepare(conn, source)
        domain = mime.domain_of(compiled.envelope_from)
    except (MailerError, CampaignTemplateError) as exc:
        # Retrying cannot help: the campaign fails with a reason staff can read.
        async with runtime.engine.begin() as conn:
            await queries.fail_run(conn, campaign_id, utcnow(), _reason(exc))
        log.error("campaign.cannot_start", campaign_id=campaign_id, error=str(exc))
        return 0
    options = runtime.options
    span = max(1, options.fanout_window)
    after, batches = await _resume_point(runtime, jobs, campaign_id, span, rest=rest), 0
    # A big audience takes longer than a job may live: stop at half the job timeout and let
    # arq run the job again, which resumes after the last window written.
    deadline = time.monotonic() + min(options.fanout_budget, options.job_timeout / 2)
    cancelled = source.status == CampaignStatus.CANCELLED
    # Segments are compiled once per run, with "the last N campaigns" before this one.
    context = Context(utcnow(), exclude_campaign=campaign_id)
    while not cancelled:
        async with runtime.engine.begin() as conn:
            # Staff may cancel while a big audience is being written: stop at the next window.
            status = await queries.campaign_status(conn, campaign_id)
            if status in (None, CampaignStatus.CANCELLED):
                cancelled = True
                break
            window = await _next_window(conn, after, span)
            if window is None:
                break
            await queries.plan_for_values(conn)
            condition = queries.fanout_condition(audience, context, window)
            ids = await _write_window(conn, source, condition, window, domain=domain, now=utcnow())
        # Enqueued after the commit: a job must never name rows that do not exist yet.
        batches += await enqueue_batches(jobs, campaign_id, ids, options.batch_size)
        after = window[1]
        # Only after a window that wrote rows: the next run resumes after the window of the
        # highest row, so every run must write at least one (windows of nobody are scanned on).
        if ids and time.monotonic() > deadline:
            log.info("campaign.fan_out_continues", campaign_id=campaign_id, after=after)
            raise Retry(defer=0)
    async with runtime.engine.begin() as conn:
        recipients = await queries.mark_fanned_out(conn, campaign_id, utcnow())
    async with runtime.engine.begin() as conn:
        if cancelled:
            await queries.skip_queued(conn, campaign_id, utcnow(), "campaign cancelled")
        finished = await queries.finish_if_done(conn, campaign_id, utcnow())
    if finished:  # nobody to send to, or every row skipped
        await announce_sent(runtime.events, runtime.engine, campaign_id)
    log.info("campaign.fanned_out", campaign_id=campaign_id, recipients=recipients, batches=batches)
    return recipients


async def _begin(
    runtime: MailerRuntime, campaign_id: int
) -> tuple[CampaignSource, queries.Run | None, queries.Audience]:
    """The campaign, its run (created, or for the rest of a subject test reopened) and its
    audience."""
    async with runtime.engine.begin() as conn:
        source = await queries.get_campaign(conn, campaign_id)
        if source is None:
            raise CampaignNotFoundError(campaign_id)
        await queries.ensure_run(conn, campaign_id, utcnow())
        if source.test_winner is not None and source.test_decided_at is not None:
            await queries.reopen_for_rest(conn, campaign_id, source.test_decided_at)
        run = await queries.get_run(conn, campaign_id)
        audience = await queries.campaign_audience(conn, campaign_id)
    return source, run, audience


async def _next_window(conn: AsyncConnection, after: int, span: int) -> tuple[int, int] | None:
    """The window (above its first id, up to its last) holding the next subscriber after
    ``after``, aligned on multiples of ``span``; None past the last subscriber.

    Aligned, a window is the same in every run, so a resumed fan-out cuts the same batches.
    """
    following = await queries.next_subscriber(conn, after)
    if following is None:
        return None
    first = max(after, (following - 1) // span * span)
    return first, (following - 1) // span * span + span


async def _write_window(
    conn: AsyncConnection,
    source: CampaignSource,
    condition: sa.ColumnElement[bool],
    window: tuple[int, int],
    *,
    domain: str,
    now: datetime,
) -> list[int]:
    """The window's ledger rows written; the ids of the queued rows its batches take."""
    if not source.in_test or source.test_sample_percent is None:
        return await queries.write_audience_window(
            conn, source.id, condition, window, domain=domain, now=now
        )
    # A subject test's sample: who is in it and with which subject is a digest Python takes
    # (shared.subject_tests), so the window's ids come here and only the sample's are written.
    page = await queries.audience_ids(conn, condition, window)
    subjects = _sample_subjects(source, page)
    sample = [s for s in page if subjects[s] is not None]
    rows = [(s, mime.campaign_message_id(source.id, s, domain)) for s in sample]
    await queries.insert_deliveries(conn, source.id, rows, now, subjects)
    if not sample:
        return []
    return await queries.queued_ids_between(conn, source.id, sample[0], sample[-1])


def _sample_subjects(source: CampaignSource, page: list[int]) -> dict[int, int | None]:
    """A subject test's sample: each subscriber's subject, None for those not in the sample."""
    count = len(source.test_subjects)
    percent = source.test_sample_percent or 0
    return {s: subject_for(source.id, s, percent, count) for s in page}


def _reason(exc: Exception) -> str:
    if isinstance(exc, CampaignTemplateError):
        return f"a template does not compile: {exc}"
    if isinstance(exc, UnsupportedAddressError):
        return (
            f"the From address {exc.address!r} cannot be sent"
            " (a non-ASCII local part needs SMTPUTF8, which is not assumed)"
        )
    return f"the campaign cannot be sent: {exc}"


async def _resume_point(
    runtime: MailerRuntime, jobs: JobQueue, campaign_id: int, span: int, *, rest: bool = False
) -> int:
    """Where an interrupted fan-out goes on: after the window of the highest subscriber in the
    ledger (for the rest of a subject test, the highest outside its sample).

    Windows are written in subscriber order, one transaction each, so every subscriber up to
    that window's end has a row. The last window's jobs may not have been enqueued before the
    stop: enqueue its queued rows again (the same rows give the same batches and job ids, so
    this is a no-op when they were).
    """
    async with runtime.engine.begin() as conn:
        highest = await queries.highest_subscriber(conn, campaign_id, outside_sample=rest)
        if not highest:
            return 0
        first = (highest - 1) // span * span
        ids = await queries.queued_ids_between(conn, campaign_id, first + 1, first + span)
    await enqueue_batches(jobs, campaign_id, ids, runtime.options.batch_size)
    return first + span
