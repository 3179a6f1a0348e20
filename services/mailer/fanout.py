"""Fanning a campaign out: ledger rows for its audience, then deliver_batch jobs.

The audience is streamed in keyset pages, never held whole. Every step is idempotent, so a
fan-out that crashed half-way is simply run again: rows are inserted with ON CONFLICT DO
NOTHING, Message-IDs are derived from (campaign, subscriber), and batch job ids from the
batch's rows (see DELIVER_BATCH in shared/queues.py).
"""

from __future__ import annotations

import time

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
from shared.jobs import JobQueue, enqueue
from shared.queues import DELIVER_BATCH
from shared.segment_sql import Context
from shared.statuses import CampaignStatus
from shared.subject_tests import subject_for

log = structlog.get_logger(__name__)


async def enqueue_batch(
    jobs: JobQueue, campaign_id: int, delivery_ids: list[int], *, tag: str | None = None
) -> None:
    """Enqueue deliver_batch for ids; the deterministic job id makes a repeat a no-op."""
    batch = DeliverBatch(campaign_id=campaign_id, delivery_ids=delivery_ids)
    await enqueue(jobs, DELIVER_BATCH, batch, tag=tag)


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
    after, batches = await _resume_point(runtime, jobs, campaign_id, rest=rest), 0
    # A big audience takes longer than a job may live: stop at half the job timeout and let
    # arq run the job again, which resumes after the last subscriber written.
    options = runtime.options
    deadline = time.monotonic() + min(options.fanout_budget, options.job_timeout / 2)
    cancelled = source.status == CampaignStatus.CANCELLED
    # Segments are compiled once per run, with "the last N campaigns" before this one.
    condition = audience.condition(Context(utcnow(), exclude_campaign=campaign_id))
    while not cancelled:
        async with runtime.engine.begin() as conn:
            # Staff may cancel while a big audience is being written: stop at the next page.
            status = await queries.campaign_status(conn, campaign_id)
            if status in (None, CampaignStatus.CANCELLED):
                cancelled = True
                break
            page, last = await _audience_page(
                conn, audience, condition, after, runtime.options.batch_size
            )
            if last is None:
                break
            subjects = _sample_subjects(source, page)
            if subjects is not None:
                page = [s for s in page if subjects[s] is not None]
            rows = [(s, mime.campaign_message_id(campaign_id, s, domain)) for s in page]
            await queries.insert_deliveries(conn, campaign_id, rows, utcnow(), subjects)
            ids = (
                await queries.queued_ids_between(conn, campaign_id, page[0], page[-1])
                if page
                else []
            )
        # Enqueued after the commit: a job must never name rows that do not exist yet.
        if ids:
            await enqueue_batch(jobs, campaign_id, ids)
            batches += 1
        after = last
        # Only after a page that wrote rows: the next run resumes after the highest row, so
        # every run must write at least one (pages of inactive subscribers are scanned on).
        if page and time.monotonic() > deadline:
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


async def _audience_page(
    conn: AsyncConnection,
    audience: queries.Audience,
    condition: sa.ColumnElement[bool],
    after: int,
    size: int,
) -> tuple[list[int], int | None]:
    if audience.segments:
        return await queries.segment_audience_page(conn, condition, after, size)
    return await queries.audience_page(conn, audience.list_ids, after, size)


def _sample_subjects(source: CampaignSource, page: list[int]) -> dict[int, int | None] | None:
    """A subject test's sample: each subscriber's subject, None for those not in the sample;
    None for any other fan-out."""
    if not source.in_test or source.test_sample_percent is None:
        return None
    count = len(source.test_subjects)
    percent = source.test_sample_percent
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
    runtime: MailerRuntime, jobs: JobQueue, campaign_id: int, *, rest: bool = False
) -> int:
    """Where an interrupted fan-out goes on: after the highest subscriber in the ledger (for
    the rest of a subject test, the highest outside its sample).

    Pages are written in subscriber order, one transaction each, so every subscriber up to
    that one has a row. The last page's jobs may not have been enqueued before the stop:
    enqueue its queued rows again (the same rows give the same job id, so this is a no-op
    when they were).
    """
    async with runtime.engine.begin() as conn:
        after = await queries.highest_subscriber(conn, campaign_id, outside_sample=rest)
        ids = await queries.last_queued_ids(conn, campaign_id, runtime.options.batch_size)
    if ids:
        await enqueue_batch(jobs, campaign_id, ids)
    return after
