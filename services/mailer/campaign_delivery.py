"""Delivering one batch of a campaign's ledger rows: re-check, claim, render, send, record.

A row is moved to 'sending' (a committed claim) before its SMTP transaction, and to its outcome
right after a chunk of sends, so the ledger never claims more than one chunk per job that is
not settled. Only rows this job's claim moved are sent, so two jobs holding the same ids (a
re-run fan-out, the reconciler) can never both send a row.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from arq.worker import Retry

from services.mailer import mime, queries
from services.mailer.auto_pause import pause_if_failing
from services.mailer.campaign_render import render_message
from services.mailer.campaign_types import CompiledCampaign, Recipient
from services.mailer.errors import MailerError, SmtpError
from services.mailer.queries import Outcome
from services.mailer.resident_events import announce_sent
from services.mailer.retry import backoff
from services.mailer.runtime import MailerRuntime
from shared.campaign_templates import CampaignTemplateError
from shared.clock import utcnow
from shared.contracts import DeliverBatch
from shared.db import SqliteWriter
from shared.segment_sql import Context
from shared.statuses import CampaignStatus, DeliveryStatus, RunState
from shared.template_limits import TemplateLimitError

log = structlog.get_logger(__name__)

# What making one recipient's message may raise; none of it gets better on a retry.
_RENDER_FAILURES = (
    MailerError,
    CampaignTemplateError,
    ValueError,
    TypeError,
    LookupError,
    ArithmeticError,
    RecursionError,
    MemoryError,
)


@dataclass
class BatchReport:
    """Counts of what one run of a batch did."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    retry_attempt: int = 0

    def add(self, outcomes: Sequence[Outcome]) -> None:
        """Count a chunk's outcomes."""
        for outcome in outcomes:
            if outcome.status == DeliveryStatus.SENT:
                self.sent += 1
            elif outcome.status == DeliveryStatus.FAILED:
                self.failed += 1
            elif outcome.status == DeliveryStatus.QUEUED:
                self.deferred += 1


async def deliver_batch(runtime: MailerRuntime, batch: DeliverBatch) -> BatchReport:
    """Send a batch's still-queued rows; raise Retry when some should be tried again later."""
    report = BatchReport()
    async with runtime.engine.begin() as conn:
        source = await queries.get_campaign(conn, batch.campaign_id)
        if source is None:
            return report  # the campaign was deleted; its ledger rows went with it
        if source.status == CampaignStatus.CANCELLED:
            # Rows a cancel left behind (written by a fan-out still running, say): skipped.
            await queries.mark_skipped(conn, batch.delivery_ids, utcnow(), "campaign cancelled")
            await queries.finish_if_done(conn, batch.campaign_id, utcnow())
            return report
        if (
            source.status == CampaignStatus.PAUSED
            or await queries.run_state(conn, batch.campaign_id) == RunState.PAUSE_REQUESTED
        ):
            return report  # rows stay queued; resuming the campaign enqueues them again
        audience = await queries.campaign_audience(conn, batch.campaign_id)
        # Segments are evaluated again, as lists are: whoever no longer matches is skipped.
        in_audience = audience.condition(Context(utcnow(), exclude_campaign=batch.campaign_id))
        rows = await queries.load_queued(conn, batch.campaign_id, batch.delivery_ids, in_audience)
        # Suppression at send time: whoever left since fan-out is skipped, never mailed.
        skipped = [recipient.delivery_id for recipient, ok in rows if not ok]
        await queries.mark_skipped(conn, skipped, utcnow())
    report.skipped = len(skipped)
    try:
        campaign = runtime.campaigns.cached(source)
        if campaign is None:
            async with runtime.engine.begin() as conn:
                # Once per campaign and process: its tracked links stored, its body rewritten.
                campaign = await runtime.campaigns.prepare(conn, source)
    except (CampaignTemplateError, MailerError) as exc:  # a bad template or From address
        log.error("campaign.template_error", campaign_id=batch.campaign_id, error=str(exc))
        campaign = None
    eligible = [recipient for recipient, ok in rows if ok]
    attempts = {r.delivery_id: r.attempts + 1 for r in eligible}
    options = runtime.options
    size = max(1, options.chunk_size)
    # Rate limits can make a batch slower than its job may live: stop claiming at half the
    # job timeout and let the job run again for the rest.
    deadline = time.monotonic() + options.job_timeout / 2
    out_of_time = False
    for start in range(0, len(eligible), size):
        chunk = eligible[start : start + size]
        outcomes, released, departed = await _deliver_chunk(
            runtime, campaign, chunk, in_audience, deadline
        )
        report.add(outcomes)
        report.skipped += departed
        for outcome in outcomes:
            if outcome.status == DeliveryStatus.QUEUED:
                report.retry_attempt = max(report.retry_attempt, attempts[outcome.delivery_id])
        if released or time.monotonic() > deadline:
            out_of_time = start + size < len(eligible) or bool(released)
            break
    await _finish_if_done(runtime, batch.campaign_id)
    await pause_if_failing(runtime, batch.campaign_id, report.sent, report.failed)
    _count(runtime, report)
    if report.deferred:
        # The exponent is the rows' own attempt count, not arq's job_try (which also counts
        # re-runs for time).
        raise Retry(defer=backoff(report.retry_attempt, options.retry_base, options.retry_cap))
    if out_of_time:
        raise Retry(defer=0.01)
    return report


def _count(runtime: MailerRuntime, report: BatchReport) -> None:
    ledger = runtime.metrics.ledger
    for status, number in (
        (DeliveryStatus.SENT, report.sent),
        (DeliveryStatus.FAILED, report.failed),
        (DeliveryStatus.SKIPPED, report.skipped),
        ("deferred", report.deferred),
    ):
        if number:
            ledger.labels(status).inc(number)


async def _finish_if_done(runtime: MailerRuntime, campaign_id: int) -> None:
    """End the run when no row waits any more, and announce the campaign sent."""
    if runtime.ledger_writer is not None:
        # The writer thread commits the end of the run even if this job is stopped meanwhile,
        # and nobody else would announce it: the announcement is shielded with it.
        await asyncio.shield(_finish_on_writer(runtime, runtime.ledger_writer, campaign_id))
        return
    async with runtime.engine.begin() as conn:
        finished = await queries.finish_if_done(conn, campaign_id, utcnow())
    if finished:
        await announce_sent(runtime.events, runtime.engine, campaign_id)


async def _finish_on_writer(runtime: MailerRuntime, writer: SqliteWriter, campaign_id: int) -> None:
    if await writer.run(queries.finish_run_if_done, campaign_id, utcnow()):
        await announce_sent(runtime.events, runtime.engine, campaign_id)


async def _deliver_chunk(
    runtime: MailerRuntime,
    campaign: CompiledCampaign | None,
    chunk: list[Recipient],
    in_audience: sa.ColumnElement[bool],
    deadline: float,
) -> tuple[list[Outcome], int, int]:
    """Claim, send and record one chunk; returns the outcomes, how many rows went back and how
    many were skipped because their subscriber left since the batch started."""
    ids = [r.delivery_id for r in chunk]
    # Consent is checked again at the claim, in the claim's own statement: a batch's rows may
    # wait seconds for their chunk, and a resident who unsubscribed meanwhile gets nothing.
    writer = runtime.ledger_writer
    if writer is not None:
        # SQLite has one writer at a time, and the claim's UPDATE reads the subscriptions
        # after taking the write lock: no unsubscribe can commit while it runs, so the claim
        # sees every one answered before it and needs no re-check.
        claimed, departed = await _claim_on_writer(writer, ids, in_audience)
    else:
        async with runtime.engine.begin() as conn:
            claimed = await queries.claim(conn, ids, utcnow(), in_audience)
            unclaimed = [i for i in ids if i not in claimed]  # usually none: one statement only
            departed = await queries.skip_departed(conn, unclaimed, in_audience, utcnow())
    if claimed and writer is None:
        # Asked once more, after the claim's commit. The claiming statement reads the residents'
        # subscriptions as of its own start (READ COMMITTED), so an unsubscribe that commits
        # while it runs is not seen by it, and the resident may already have been told "you
        # are unsubscribed". A statement that starts after the commit sees every unsubscribe
        # answered before it; what is left is the chunk's own time on the wire.
        async with runtime.engine.begin() as conn:
            late = await queries.skip_departed(
                conn, sorted(claimed), in_audience, utcnow(), status=DeliveryStatus.SENDING
            )
        claimed -= late
        departed |= late
    mine = [r for r in chunk if r.delivery_id in claimed]
    outcomes: list[Outcome] = []
    started: set[int] = set()
    try:
        await _send_all(runtime, campaign, mine, outcomes, started, deadline=deadline)
    except BaseException:
        # Stopped mid-chunk (shutdown, job timeout, or Redis gone under the rate limiter):
        # settle what is known before leaving, so the messages already handed to the relay
        # are recorded as sent and never sent again by the reconciler.
        untouched = [r.delivery_id for r in mine if r.delivery_id not in started]
        try:
            await asyncio.shield(_settle(runtime, outcomes, untouched))
        except Exception as exc:  # the database may be what failed: the reconciler has it
            log.warning("chunk.unsettled", rows=len(mine), error=type(exc).__name__)
        raise
    untouched = [r.delivery_id for r in mine if r.delivery_id not in started]
    await _settle(runtime, outcomes, untouched)
    return outcomes, len(untouched), len(departed)


async def _claim_on_writer(
    writer: SqliteWriter,
    ids: list[int],
    in_audience: sa.ColumnElement[bool],
) -> tuple[set[int], set[int]]:
    """The chunk's claim on SQLite's writer thread. A claim under way there commits even when
    this job is stopped meanwhile (shutdown, job timeout): its rows then go straight back to
    the queue, not to the reconciler minutes later."""
    claiming = asyncio.ensure_future(writer.run(queries.claim_chunk, ids, utcnow(), in_audience))
    try:
        return await asyncio.shield(claiming)
    except asyncio.CancelledError:
        try:
            claimed, _departed = await claiming
            await writer.run(queries.settle_chunk, [], sorted(claimed), utcnow())
        except Exception as exc:  # the database may be what failed: the reconciler has it
            log.warning("chunk.unreleased", rows=len(ids), error=type(exc).__name__)
        raise


async def _settle(runtime: MailerRuntime, outcomes: list[Outcome], untouched: list[int]) -> None:
    if runtime.ledger_writer is not None:
        await runtime.ledger_writer.run(queries.settle_chunk, outcomes, untouched, utcnow())
        return
    async with runtime.engine.begin() as conn:
        await queries.record_outcomes(conn, outcomes, utcnow())
        await queries.release(conn, untouched, utcnow())


async def _send_all(
    runtime: MailerRuntime,
    campaign: CompiledCampaign | None,
    recipients: list[Recipient],
    outcomes: list[Outcome],
    started: set[int],
    *,
    deadline: float,
) -> None:
    pending = iter(recipients)
    limiter = runtime.limiter

    renders = _RenderAhead(runtime, campaign, recipients) if campaign is not None else None

    async def sender() -> None:
        for recipient in pending:
            if limiter.enabled:
                # Waiting here leaves the row untouched: a stop now gives it back to the queue.
                # A window that stays full past the deadline ends the wait there.
                fits = await limiter.acquire(mime.domain_of(recipient.email), deadline)
                if not fits or time.monotonic() > deadline:
                    return  # out of time: the rest of the chunk goes back to the queue
            started.add(recipient.delivery_id)
            if campaign is None or renders is None:
                outcomes.append(_not_compiled(recipient))
                continue
            rendered = await renders.get(recipient)
            outcomes.append(await _send_one(runtime, campaign, recipient, rendered))

    workers = min(len(recipients), runtime.bulk_smtp.size)
    try:
        await asyncio.gather(*(sender() for _ in range(workers)))
    finally:
        if renders is not None:
            renders.cancel()


# A message of an ordinary campaign renders in tens of microseconds, about what one hop to a
# thread and back costs, and a render thread also competes with the event loop for the GIL:
# ordinary campaigns render on the loop. Messages that take longer than this move their
# campaign to the render threads for the rest of the process's life, so a costly template (up
# to its time limit per recipient) holds up transactional mail a few times, briefly, and never
# again. Measured in CPU time of the loop's thread, not on the wall clock: waiting for the GIL
# (the database driver's thread keeps it up to the switch interval, 5 ms) or for a core on a
# busy machine is no cost of the template, and on the wall clock it moved ordinary campaigns.
SLOW_RENDER = 0.005
# One slow message can be a busy host (CPU time is not free of it): a campaign moves on its
# third slow message, at once on one this much slower or one that the template limits stopped.
# Garbage collections are not counted (see _CollectorTime): a full one of a large heap costs
# tens of milliseconds, which moved ordinary campaigns to the threads for good.
SLOW_RENDERS_TO_MOVE = 3
VERY_SLOW_RENDER = 10 * SLOW_RENDER
# A costly campaign's messages are rendered this many per thread hop, ahead of the senders.
RENDER_GROUP = 32

Rendered = tuple[bytes, str] | BaseException


class _RenderAhead:
    """A chunk's messages, rendered and signed on the event loop while the campaign is cheap,
    else ahead of the senders in the render threads."""

    def __init__(
        self, runtime: MailerRuntime, campaign: CompiledCampaign, recipients: list[Recipient]
    ) -> None:
        self._runtime = runtime
        self._campaign = campaign
        self._groups: list[asyncio.Future[list[Rendered]]] = []
        self._where: dict[int, tuple[asyncio.Future[list[Rendered]], int]] = {}
        if campaign.id in runtime.costly_campaigns:
            self._render_ahead(recipients)

    def _render_ahead(self, recipients: list[Recipient]) -> None:
        loop = asyncio.get_running_loop()
        for start in range(0, len(recipients), RENDER_GROUP):
            group = recipients[start : start + RENDER_GROUP]
            future = loop.run_in_executor(
                self._runtime.renderer, _render_group, self._runtime, self._campaign, group
            )
            self._groups.append(future)
            for index, recipient in enumerate(group):
                self._where[recipient.delivery_id] = (future, index)

    async def get(self, recipient: Recipient) -> Rendered:
        """The message bytes and envelope address for ``recipient``, or why there are none."""
        where = self._where.get(recipient.delivery_id)
        if where is not None:
            future, index = where
            return (await future)[index]
        if self._campaign.id in self._runtime.costly_campaigns:
            # Found costly during this chunk: the rest of its messages go to the threads.
            loop = asyncio.get_running_loop()
            group = [recipient]
            rendered = await loop.run_in_executor(
                self._runtime.renderer, _render_group, self._runtime, self._campaign, group
            )
            return rendered[0]
        return render_on_loop(self._runtime, self._campaign, recipient)

    def cancel(self) -> None:
        """Drop the groups no sender will need (the chunk ran out of time or was stopped)."""
        for future in self._groups:
            future.cancel()


class _CollectorTime:
    """CPU time the garbage collector has spent on each thread (gc.callbacks), so that a
    collection that happens to start during a render is not billed to the campaign."""

    def __init__(self) -> None:
        self._spent: dict[int, float] = {}
        self._started: dict[int, float] = {}
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        thread = threading.get_ident()
        if phase == "start":
            self._started[thread] = time.thread_time()
        elif (started := self._started.pop(thread, None)) is not None:
            self._spent[thread] = self._spent.get(thread, 0.0) + time.thread_time() - started

    def spent(self) -> float:
        """Collector CPU time of the calling thread so far."""
        return self._spent.get(threading.get_ident(), 0.0)


_COLLECTOR = _CollectorTime()


def render_on_loop(
    runtime: MailerRuntime, campaign: CompiledCampaign, recipient: Recipient
) -> Rendered:
    """One recipient's message made on the calling thread, its CPU time counted against the
    campaign: slow ones move it to the render threads (see SLOW_RENDER)."""
    started, collecting = time.thread_time(), _COLLECTOR.spent()
    [rendered] = _render_group(runtime, campaign, [recipient])
    cost = time.thread_time() - started - (_COLLECTOR.spent() - collecting)
    # A render the template limits stopped is as slow as any gets, however little CPU time a
    # busy host let it have.
    stopped = isinstance(rendered, BaseException) and isinstance(
        rendered.__cause__, TemplateLimitError
    )
    if cost > SLOW_RENDER or stopped:
        slow = runtime.slow_renders[campaign.id] = runtime.slow_renders.get(campaign.id, 0) + 1
        if slow >= SLOW_RENDERS_TO_MOVE or cost > VERY_SLOW_RENDER or stopped:
            runtime.costly_campaigns.add(campaign.id)
            log.info("campaign.costly_render", campaign_id=campaign.id, seconds=round(cost, 4))
    return rendered


def _render_group(
    runtime: MailerRuntime, campaign: CompiledCampaign, group: list[Recipient]
) -> list[Rendered]:
    rendered: list[Rendered] = []
    for recipient in group:
        try:
            rendered.append(_message_for(runtime, campaign, recipient))
        except _RENDER_FAILURES as exc:
            rendered.append(exc)
    return rendered


def _message_for(
    runtime: MailerRuntime, campaign: CompiledCampaign, recipient: Recipient
) -> tuple[bytes, str]:
    """The signed message bytes and ASCII envelope address for one recipient."""
    message = runtime.signed(render_message(campaign, recipient, runtime.links))
    return message, mime.ascii_address(recipient.email)


def _not_compiled(recipient: Recipient) -> Outcome:
    return Outcome(
        recipient.delivery_id,
        DeliveryStatus.FAILED,
        None,
        "campaign does not compile (template or From address)",
    )


async def _send_one(
    runtime: MailerRuntime, campaign: CompiledCampaign, recipient: Recipient, rendered: Rendered
) -> Outcome:
    variant = campaign.variant_of(recipient.language)
    if isinstance(rendered, BaseException):
        # This recipient's message cannot be made (a template failing or over its limits for
        # them, a bad address): a failed row with the reason, and the batch goes on.
        return Outcome(
            recipient.delivery_id,
            DeliveryStatus.FAILED,
            None,
            str(rendered)[:1000],
            variant=variant,
        )
    message, address = rendered
    try:
        sender = runtime.return_path(campaign.id, recipient.subscriber_id, campaign.envelope_from)
        result = await runtime.bulk_smtp.send(sender, [address], message)
    except SmtpError as exc:
        # recipient.attempts was read before this claim added one.
        exhausted = recipient.attempts + 1 >= runtime.options.max_attempts
        status = DeliveryStatus.QUEUED if exc.temporary and not exhausted else DeliveryStatus.FAILED
        return Outcome(recipient.delivery_id, status, exc.code, exc.message, variant=variant)
    except (MailerError, CampaignTemplateError, ValueError) as exc:
        # Refused before any SMTP (bad address, header, template): retrying will not help.
        return Outcome(
            recipient.delivery_id, DeliveryStatus.FAILED, None, str(exc), variant=variant
        )
    return Outcome(
        recipient.delivery_id,
        DeliveryStatus.SENT,
        result.code,
        result.message,
        sent_at=utcnow(),
        variant=variant,
    )
