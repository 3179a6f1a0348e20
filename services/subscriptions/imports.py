"""Staff imports of a CSV file into one list, run by this service (the owner of subscribers).

Each import is either *attested*: staff state the consent basis, when and how consent was
collected and who attests it, and every address joins the list confirmed, with consent records
(form ``import``) that point at that attestation; or *confirm*: every address new to the list
gets the normal double opt-in mail and stays pending until it is confirmed.

Invalid lines (bad address, unknown language or municipality, too long a value) and repeated
addresses are recorded by line number and skipped; erased, bounced and complaining addresses
are skipped and counted, and so are residents who had left the list (an import never
subscribes them again). Existing subscribers' details change only when the import says so
(``update_existing``).

Resumable: the file is read line by line and written in batches; each batch commits with the
import's counters and the last line it covered, so an interrupted import (state ``running`` or
``failed``) is continued from there by running it again with the same key.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Final

import structlog
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.subscriptions import audit, queries
from services.subscriptions.errors import SubscriptionsError
from services.subscriptions.i18n import list_name
from services.subscriptions.import_rows import (
    CheckedRow,
    ImportFileError,
    check_line,
    open_csv,
    read_lines,
    resolve_columns,
)
from services.subscriptions.links import preferences_url, sign_confirm, sign_preferences
from services.subscriptions.outbox import Outbox, enqueue_mails, render_confirmation
from services.subscriptions.queries import ImportRow, KnownSubscriber, ListRow, RejectRow
from shared.addresses import address_digest
from shared.clock import utcnow
from shared.contracts import OutboundMail
from shared.import_uploads import guess_columns
from shared.languages import LANGUAGES
from shared.statuses import ConsentEvent, SubscriberStatus, SubscriptionStatus

log = structlog.get_logger(__name__)

ATTESTED: Final = "attested"
CONFIRM: Final = "confirm"
MODES: Final = (ATTESTED, CONFIRM)
RUNNING: Final = "running"
FINISHED: Final = "finished"
FAILED: Final = "failed"

BATCH_ROWS: Final = 1000
# Double opt-in mail is paced so an import does not flood the relay (the mailer's own limits
# apply on top); 100,000 addresses take a little under three hours.
CONFIRMATIONS_PER_MINUTE: Final = 600
MAX_KEY: Final = 64
ATTESTATION_LIMITS: Final[Mapping[str, int]] = {
    "basis": 200,
    "collected": 200,
    "method": 500,
    "attested_by": 200,
}
# A concurrent sign-up of an address in the batch wins the insert: the batch is tried again.
_ATTEMPTS: Final = 3


@dataclass(frozen=True)
class Attestation:
    """Staff's statement that consent was collected: basis, when, how and who attests."""

    basis: str
    collected: str
    method: str
    attested_by: str


@dataclass(frozen=True)
class ImportRequest:
    """What staff asked for. ``columns`` maps fields to header names (None: guessed)."""

    key: str
    list_slug: str
    actor: str
    mode: str
    attestation: Attestation | None = None
    update_existing: bool = False
    default_language: str = "da"
    columns: Mapping[str, str] | None = None


class ImportRefused(SubscriptionsError):
    """The import cannot start: ``problems`` name each field at fault and why."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__(", ".join(f"{name}: {why}" for name, why in self.problems.items()))


Progress = Callable[[ImportRow], None]


def request_problems(request: ImportRequest) -> dict[str, str]:
    """Every problem of an import request, by field; empty when it may start."""
    problems: dict[str, str] = {}
    if not request.key or len(request.key) > MAX_KEY:
        problems["key"] = "invalid"
    if request.mode not in MODES:
        problems["mode"] = "invalid"
    if request.default_language not in LANGUAGES:
        problems["default_language"] = "invalid"
    if request.mode == ATTESTED:
        given = vars(request.attestation) if request.attestation else {}
        for name, limit in ATTESTATION_LIMITS.items():
            value = str(given.get(name) or "").strip()
            if not value:
                problems[f"attestation.{name}"] = "required"
            elif len(value) > limit:
                problems[f"attestation.{name}"] = "too_long"
    return problems


@dataclass
class _Batch:
    rows: list[CheckedRow] = field(default_factory=list)
    rejects: list[RejectRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    records: int = 0  # lines read (a line may have several rejects)

    def count(self, name: str, amount: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + amount


async def run_import(
    sessions: async_sessionmaker[AsyncSession],
    request: ImportRequest,
    binary: IO[bytes],
    *,
    outbox: Outbox | None = None,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
    confirmations_per_minute: int = CONFIRMATIONS_PER_MINUTE,
) -> ImportRow:
    """Import ``binary`` (a CSV file) as ``request`` says, or continue the import with its key
    where it stopped; return the import as it ended. Raises ImportRefused when it cannot start.

    ``outbox`` sends the confirmation mails of mode ``confirm``; ``progress`` is called after
    every committed batch.
    """
    if problems := request_problems(request):
        raise ImportRefused(problems)
    if request.mode == CONFIRM and outbox is None:
        raise ValueError("a confirm import needs an outbox for its mails")
    try:
        source = open_csv(binary)
    except ImportFileError as exc:
        raise ImportRefused({"file": exc.problem}) from None
    async with sessions() as session:
        job = await _start(session, request, source.header)
    if job.state == FINISHED:
        return job
    runner = _Runner(
        sessions,
        job,
        outbox=outbox,
        batch_rows=batch_rows,
        confirmations_per_minute=confirmations_per_minute,
        progress=progress,
    )
    try:
        await runner.run(source)
    except BaseException as exc:
        await _set_state(sessions, job.id, FAILED, type(exc).__name__)
        log.warning("import.failed", key=job.key, error=type(exc).__name__, line=runner.line)
        raise
    return await runner.finish()


async def _start(session: AsyncSession, request: ImportRequest, header: list[str]) -> ImportRow:
    """The import with the request's key, created when new, marked running again if not done."""
    async with session.begin():
        custom_keys = [row.key for row in await queries.get_all_custom_fields(session)]
        existing = await queries.get_import(session, request.key)
        if existing is not None:
            columns = existing.columns
        else:
            columns = dict(request.columns or guess_columns(header, custom_keys))
        try:
            resolve_columns(header, columns, custom_keys)
        except ImportFileError as exc:
            raise ImportRefused({"columns": exc.problem}) from None
        if existing is not None:
            if existing.state != FINISHED:
                await queries.set_import_state(session, existing.id, RUNNING, utcnow())
            found = await queries.get_import(session, request.key)
            assert found is not None
            return found
        target = await queries.get_list_by_slug(session, request.list_slug)
        if target is None:
            raise ImportRefused({"list": "unknown"})
        now = utcnow()
        attestation = request.attestation if request.mode == ATTESTED else None
        await queries.insert_import(
            session,
            {
                "key": request.key,
                "list_id": target.id,
                "actor": request.actor,
                "mode": request.mode,
                "update_existing": request.update_existing,
                "default_language": request.default_language,
                "columns": columns,
                "consent_basis": attestation.basis.strip() if attestation else None,
                "consent_collected": attestation.collected.strip() if attestation else None,
                "consent_method": attestation.method.strip() if attestation else None,
                "attested_by": attestation.attested_by.strip() if attestation else None,
                "state": RUNNING,
                "created_at": now,
                "updated_at": now,
            },
        )
        created = await queries.get_import(session, request.key)
        assert created is not None
        log.info("import.started", key=request.key, mode=request.mode, list=request.list_slug)
        return created


async def _set_state(
    sessions: async_sessionmaker[AsyncSession], import_id: int, state: str, failure: str | None
) -> None:
    async with sessions() as session, session.begin():
        await queries.set_import_state(session, import_id, state, utcnow(), failure)


class _Runner:
    """One run over the file: checks lines, collects batches and writes them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        job: ImportRow,
        *,
        outbox: Outbox | None,
        batch_rows: int,
        confirmations_per_minute: int,
        progress: Progress | None,
    ) -> None:
        self.sessions = sessions
        self.job = job
        self.outbox = outbox
        self.batch_rows = batch_rows
        self.pace = 60.0 / confirmations_per_minute if confirmations_per_minute > 0 else 0.0
        self.progress = progress
        self.line = job.lines_done
        # The line each address was first seen on (identity key), to report repetitions. It
        # grows with the file, not the audience; a resumed run rebuilds it from the lines
        # before the checkpoint.
        self.seen: dict[str, int] = {}
        self.mails_sent = 0
        self.started = time.monotonic()

    async def run(self, source: Any) -> None:
        """Read every line after the header; write a batch whenever one is full."""
        async with self.sessions() as session, session.begin():
            definitions = {row.key: row for row in await queries.get_all_custom_fields(session)}
            target = (await queries.get_lists_by_id(session, [self.job.list_id]))[0]
        positions = resolve_columns(source.header, self.job.columns, list(definitions))
        batch = _Batch()
        for line, cells in read_lines(source):
            checked = check_line(line, cells, positions, definitions)
            done_before = line <= self.job.lines_done
            batch.records += not done_before
            if isinstance(checked, list):
                if not done_before:
                    batch.rejects.extend(checked)
                    batch.count("invalid")
            elif (first := self.seen.get(checked.email_key)) is not None:
                if not done_before:
                    batch.rejects.append(RejectRow(line, "email", "duplicate", f"line {first}"))
                    batch.count("duplicates")
            else:
                self.seen[checked.email_key] = line
                if not done_before:
                    batch.rows.append(checked)
            if batch.records >= self.batch_rows:
                await self._write(batch, target, source.line)
                batch = _Batch()
        await self._write(batch, target, source.line)

    async def finish(self) -> ImportRow:
        """Mark the import finished, audit it (counts only) and return it."""
        async with self.sessions() as session, session.begin():
            now = utcnow()
            await queries.set_import_state(session, self.job.id, FINISHED, now)
            job = await queries.get_import(session, self.job.key)
            assert job is not None
            counts = {name: getattr(job, name) for name in queries.COUNTERS}
            await audit.record(
                session,
                actor=job.actor,
                action=audit.IMPORTED,
                email=None,
                details={"import": job.key, "list_id": job.list_id, "mode": job.mode, **counts},
                now=now,
            )
        log.info("import.finished", key=job.key, lines=job.lines_done, **counts)
        return job

    async def _write(self, batch: _Batch, target: ListRow, lines_done: int) -> None:
        if lines_done <= self.job.lines_done:
            return  # still before the checkpoint of an earlier run
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self.sessions() as session, session.begin():
                    counts, mails = await _write_batch(
                        session, self.job, target, batch, self.outbox
                    )
                    await queries.insert_rejects(session, self.job.id, batch.rejects)
                    await queries.save_progress(
                        session,
                        self.job.id,
                        lines_done=lines_done,
                        rows=batch.records,
                        counts=counts,
                        now=utcnow(),
                    )
                    if mails and self.outbox is not None:
                        # Before the commit, as every state change with mail does.
                        await enqueue_mails(self.outbox.jobs, mails)
                    job = await queries.get_import(session, self.job.key)
                break
            except (IntegrityError, OperationalError):
                if attempt == _ATTEMPTS:
                    raise
                log.info("import.batch_retry", key=self.job.key, attempt=attempt)
        assert job is not None
        self.line = lines_done
        if self.progress is not None:
            self.progress(job)
        await self._pace(len(mails))

    async def _pace(self, mails: int) -> None:
        self.mails_sent += mails
        wait = self.mails_sent * self.pace - (time.monotonic() - self.started)
        if mails and wait > 0:
            await asyncio.sleep(wait)


@dataclass
class _Plan:
    """What a batch does to each of its addresses, decided from what is stored."""

    counts: dict[str, int]
    new: list[CheckedRow] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    joining: list[KnownSubscriber] = field(default_factory=list)  # known, not on the list
    confirming: list[KnownSubscriber] = field(default_factory=list)  # pending; attested now

    def count(self, name: str, amount: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + amount


async def _plan(session: AsyncSession, job: ImportRow, batch: _Batch) -> _Plan:
    """Sort a batch's rows by what the database says about their addresses."""
    plan = _Plan(dict(batch.counts))
    digests = {row.email_key: address_digest(row.email) for row in batch.rows}
    erased = await queries.find_suppressed(session, list(digests.values()))
    known = await queries.find_subscribers(session, list(digests), job.list_id)
    for row in batch.rows:
        found = known.get(row.email_key)
        if digests[row.email_key] in erased or (
            found and (found.status != SubscriberStatus.ACTIVE or found.complained)
        ):
            plan.count("suppressed")
        elif found is None:
            plan.new.append(row)
            plan.count("added")
        elif found.list_status == SubscriptionStatus.UNSUBSCRIBED:
            plan.count("withdrawn")
        else:
            changes = _changes(found, row) if job.update_existing else None
            if changes is not None:
                plan.updates.append(changes)
            if found.list_status is None:
                plan.joining.append(found)
                plan.count("added")
            elif found.list_status == SubscriptionStatus.PENDING and job.mode == ATTESTED:
                plan.confirming.append(found)
                plan.count("added")
            else:
                plan.count("updated" if changes is not None else "unchanged")
    return plan


async def _write_batch(
    session: AsyncSession,
    job: ImportRow,
    target: ListRow,
    batch: _Batch,
    outbox: Outbox | None,
) -> tuple[dict[str, int], list[OutboundMail]]:
    """Write one batch's rows in a few set-wise statements; the batch's counts and mails."""
    if not batch.rows:
        return dict(batch.counts), []
    plan = await _plan(session, job, batch)
    now = utcnow()
    attested = job.mode == ATTESTED
    new_rows = [_new_subscriber(row, job, now, confirmed=attested) for row in plan.new]
    inserted = await queries.insert_subscribers(session, new_rows)
    await queries.update_subscribers(session, plan.updates)
    languages = {found.id: found.language for found in [*plan.joining, *plan.confirming]}
    languages.update({inserted[row["email_key"]]: row["language"] for row in new_rows})
    joined = [found.id for found in plan.joining] + list(inserted.values())
    status = SubscriptionStatus.CONFIRMED if attested else SubscriptionStatus.PENDING
    await queries.insert_subscriptions(
        session, job.list_id, joined, status=status, now=now, counted=inserted.values()
    )
    confirming = [found.id for found in plan.confirming]
    await queries.confirm_pending(session, job.list_id, confirming, now)
    # Attested: one ``confirmed`` record per subscription, whose import holds the attestation
    # (there was no request here to record); confirm mode: the ``requested`` record the
    # confirmation link later answers.
    event = ConsentEvent.CONFIRMED if attested else ConsentEvent.REQUESTED
    consent = [
        _consent(job, id_, event, languages[id_], now)
        for id_ in [*joined, *(confirming if attested else [])]
    ]
    await queries.insert_import_consent(session, consent)
    if attested or outbox is None:
        return plan.counts, []
    waiting = [(found.key, found.email, found.language) for found in plan.joining]
    waiting += [(row["key"], row["email"], row["language"]) for row in new_rows]
    return plan.counts, [_confirmation(outbox, target, *recipient) for recipient in waiting]


def _new_subscriber(
    row: CheckedRow, job: ImportRow, now: Any, *, confirmed: bool
) -> dict[str, Any]:
    # An attested import confirms the new subscriber on its list in the same batch: counted
    # here, so the batch needs no recount of the addresses it adds.
    return {
        "confirmed_lists": 1 if confirmed else 0,
        "key": secrets.token_hex(16),
        "email": row.email,
        "email_key": row.email_key,
        "name": row.name,
        "language": row.language or job.default_language,
        "status": SubscriberStatus.ACTIVE,
        "municipality": row.municipality,
        "custom_values": row.custom,
        "created_at": now,
        "updated_at": now,
    }


def _changes(found: KnownSubscriber, row: CheckedRow) -> dict[str, Any] | None:
    """The update of an existing subscriber with the file's non-empty values; None if equal."""
    custom = {**(found.custom_values or {}), **(row.custom or {})} or None
    new = {
        "new_name": row.name if row.name is not None else found.name,
        "new_language": row.language or found.language,
        "new_municipality": row.municipality or found.municipality,
        "new_custom_values": custom,
    }
    old = {
        "new_name": found.name,
        "new_language": found.language,
        "new_municipality": found.municipality,
        "new_custom_values": found.custom_values or None,
    }
    if new == old:
        return None
    return {"subscriber_id": found.id, "now": utcnow(), **new}


def _consent(
    job: ImportRow, subscriber_id: int, event: ConsentEvent, language: str, now: Any
) -> dict[str, Any]:
    return {
        "subscriber_id": subscriber_id,
        "list_id": job.list_id,
        "event": event,
        "at": now,
        "source_site_id": None,
        "form": "import",
        "consent_text_version": None,
        "language": language,
        "ip": None,
        "import_id": job.id,
    }


def _confirmation(
    outbox: Outbox, target: ListRow, key: str, to: str, language: str
) -> OutboundMail:
    """The double opt-in mail for one imported address: the sign-up's own mail."""
    settings = outbox.settings
    return render_confirmation(
        outbox.renderer,
        settings,
        to=to,
        subscriber_key=key,
        # No greeting by name: the resident has not confirmed the name the file gives.
        name=None,
        language=language,
        token=sign_confirm(outbox.signer, key, [target.id]),
        list_names=[list_name(target, language)],
        preferences_url=preferences_url(settings, sign_preferences(outbox.signer, key)),
    )
