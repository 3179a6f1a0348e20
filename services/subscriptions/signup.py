"""Signing up with double opt-in: subscribe (request) and confirm (the link in the mail)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import msgspec
import structlog
from arq.connections import ArqRedis
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.subscriptions import consent, enrolment, public_fields, queries, youth
from services.subscriptions.abuse import SignupGuard, is_honeypot_filled
from services.subscriptions.audit import address_hash
from services.subscriptions.consent import BY_RESIDENT, ConsentSource
from services.subscriptions.errors import FieldProblem, InvalidInput, ListChoice
from services.subscriptions.i18n import list_name
from services.subscriptions.links import (
    preferences_url,
    read_confirm_token,
    sign_confirm,
    sign_guardian,
    sign_preferences,
)
from services.subscriptions.outbox import (
    Outbox,
    keep_and_enqueue,
    render_confirmation,
    render_guardian_request,
)
from services.subscriptions.public_lists import PublicListDirectory
from services.subscriptions.queries import CustomFieldRow, ListRow, driver, first_signup
from services.subscriptions.resident_events import announce, resident_event, slugs_of
from services.subscriptions.schemas import (
    SignupRequest,
    SubscribeBody,
    shown_values,
    validate_signup,
)
from services.subscriptions.welcome import welcome_mails
from shared.addresses import address_identity
from shared.answer_time import minimum_duration
from shared.clock import utcnow
from shared.contracts import OutboundMail
from shared.events import resident_event_entry
from shared.jobs import JobQueue, enqueue_within_limit
from shared.languages import LANGUAGES
from shared.queues import SEND_TRANSACTIONAL
from shared.statuses import ConsentEvent, SubscriberStatus, SubscriptionStatus
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)

# A concurrent sign-up of the same address can win the race to insert (IntegrityError), or on
# SQLite hold the write lock first (OperationalError); the loser retries and then finds the
# rows. Plain select-then-insert keeps this the same on SQLite and PostgreSQL.
_ATTEMPTS = 3


@dataclass(frozen=True)
class SignupResult:
    """What a sign-up did; never shown to the resident, who always sees the same answer."""

    subscriber_key: str
    pending_list_ids: tuple[int, ...]
    mail_job_id: str | None
    # Slugs of the lists this sign-up joined, and of those it confirmed at once (no double
    # opt-in), announced on the resident events stream after the commit.
    joined: tuple[str, ...] = ()
    confirmed: tuple[str, ...] = ()


@dataclass(frozen=True)
class _NeedsConfirmation:
    """A list as a minor joins it: always pending until the guardian confirms."""

    id: int
    double_optin: bool = True


@dataclass(frozen=True)
class LinkTarget:
    """What a confirm link points at, for its pages: the lists it names that are still pending
    or confirmed. None are when the resident has since unsubscribed from them or been erased:
    the link no longer applies."""

    language: str | None
    lists: tuple[ListRow, ...]
    changed: int = 0

    @property
    def applies(self) -> bool:
        """Whether confirming means anything: some list of the link is pending or confirmed."""
        return bool(self.lists)


def list_choice(row: ListRow) -> ListChoice:
    """A list as a choice on the form."""
    names: dict[str, str] = {language: list_name(row, language) for language in LANGUAGES}
    return ListChoice(row.slug, names, youth=row.youth)


async def public_list_choices(session: AsyncSession) -> list[ListChoice]:
    """The lists a resident may choose on the form."""
    async with session.begin():
        return [list_choice(row) for row in await queries.get_public_lists(session)]


@asynccontextmanager
async def refusals_for_the_form(
    session: AsyncSession, body: SubscribeBody | None = None
) -> AsyncIterator[None]:
    """Turn any InvalidInput raised in the block into one a form can be shown again with:
    what was sent, the list choices and the public custom fields. The one place a refusal
    is made ready for a page, whichever step refused."""
    try:
        yield
    except InvalidInput as exc:
        values = exc.values or (shown_values(body) if body is not None else {})
        language = exc.language
        if language is None and body is not None and isinstance(body.language, str):
            language = body.language
        choices = await public_list_choices(session)
        fields = await public_fields.load(session)
        raise InvalidInput(exc.problems, values, choices, language, fields=fields) from None


async def subscribe(
    session: AsyncSession,
    body: SubscribeBody,
    *,
    source: ConsentSource,
    outbox: Outbox,
    guard: SignupGuard | None = None,
    fields: Sequence[CustomFieldRow] | None = None,
    public_lists: PublicListDirectory | None = None,
) -> SignupResult:
    """Record an admitted sign-up and enqueue one confirmation mail when any of its lists is
    pending.

    Raises InvalidInput (nothing stored) when a field is wrong or a list is unknown/private.
    ``source`` says where it came from (and the client IP) for the consent record. ``guard``
    applies the MX check, the per-address limit (raises RateLimited) and the daily cap on
    confirmation mails; every accepted sign-up then takes at least its minimum duration.
    ``fields``: the public custom fields to check against (admission has them); read here when
    not given. ``public_lists``: the lists as last read, for an address's first sign-up on
    PostgreSQL (without them it takes the general path).
    """
    if fields is None:
        fields = await public_fields.load(session)
    request = validate_signup(body, fields)
    async with minimum_duration(guard.min_duration if guard else 0.0):
        if is_honeypot_filled(body.website):
            # Answered like any sign-up so the bot learns nothing; nothing stored or sent.
            log.info("signup.honeypot", site=request.site_key)
            return SignupResult("", (), None)
        if guard is not None:
            await _check_address(guard, request)
        first = await _first_signup(
            session, request, source=source, outbox=outbox, guard=guard, public_lists=public_lists
        )
        if first is not None:  # announced with its mail's enqueue
            return first
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with session.begin():
                    result = await _subscribe(
                        session, request, source=source, outbox=outbox, guard=guard
                    )
                await _announce_signup(outbox.jobs, result)
                return result
            except (IntegrityError, OperationalError):
                if attempt == _ATTEMPTS:
                    raise
                log.info("signup.retry", attempt=attempt)
    raise AssertionError("unreachable")


async def _check_address(guard: SignupGuard, request: SignupRequest) -> None:
    """The MX check (when on), then the per-address limit; both before any lookup of the
    address, so neither can tell whether it is known."""
    if not await guard.is_deliverable(request.email):
        raise InvalidInput({"email": FieldProblem("undeliverable")}, language=request.language)
    await guard.admit_address(request.email)


async def _subscribe(
    session: AsyncSession,
    request: SignupRequest,
    *,
    source: ConsentSource,
    outbox: Outbox,
    guard: SignupGuard | None,
) -> SignupResult:
    lists = await queries.get_public_lists(session, request.list_slugs)
    found = {row.slug for row in lists}
    missing = [slug for slug in request.list_slugs if slug not in found]
    if missing:
        # Private lists are reported exactly like unknown ones, so they cannot be discovered.
        problem = FieldProblem("unknown", missing[0])
        raise InvalidInput({"lists": problem}, language=request.language)
    now = utcnow()
    settings = outbox.settings
    young = youth.assess(request, lists, today=now.date(), age=settings.age_of_digital_consent)
    site_id = await queries.get_site_id(session, request.site_key) if request.site_key else None
    suppressed, subscriber = await queries.get_signup_address(
        session, request.email, address_hash(request.email)
    )
    if suppressed:
        # Erased at the resident's request: same answer, nothing stored, nothing sent.
        log.info("signup.suppressed_address")
        return SignupResult("", (), None)
    new_member = subscriber is None
    if subscriber is None:
        subscriber = await queries.insert_subscriber(
            session,
            key=secrets.token_hex(16),
            email=request.email,
            name=request.name,
            language=request.language,
            source_site_id=site_id,
            now=now,
            # Only a new subscriber's values are stored: like the name, a sign-up form must
            # not let anyone who knows an address overwrite what its owner gave.
            custom_values=youth.kept_custom_values(request.custom, young),
            municipality=request.municipality,
        )
    elif subscriber.status != SubscriberStatus.ACTIVE:
        # A blocked or erased address gets the same answer and no mail.
        log.info("signup.suppressed", subscriber=subscriber.key)
        return SignupResult(subscriber.key, (), None)
    minor = young is not None and young.minor
    if young is not None:
        await youth.record(session, subscriber.id, young, now)
    enrolled = await enrolment.enrol(
        session,
        subscriber,
        # A minor's lists all wait for the guardian, double opt-in or not.
        [_NeedsConfirmation(row.id) for row in lists] if minor else lists,
        # No IP address is recorded for a minor.
        source=ConsentSource(
            source.form, site_id, None if minor else source.ip, request.consent_version
        ),
        language=request.language,
        now=now,
        record_ip=settings.record_consent_ip and not minor,
        consented_by=BY_RESIDENT if young is not None else None,
        new_member=new_member,
    )
    if not enrolled.requested:
        log.info("signup.already_confirmed", subscriber=subscriber.key)
        return SignupResult(subscriber.key, (), None)
    # Lists whose staff turned double opt-in off are confirmed at once, with their welcome.
    await keep_and_enqueue(session, outbox.jobs, subscriber.id, enrolled.welcomes)
    if enrolled.confirmed:
        log.info("signup.confirmed_at_once", subscriber=subscriber.key, lists=enrolled.confirmed)
    changes = {
        "joined": slugs_of(lists, {*enrolled.pending, *enrolled.confirmed}),
        "confirmed": slugs_of(lists, enrolled.confirmed),
    }
    pending = [row for row in lists if row.id in enrolled.pending]
    if not pending:
        return SignupResult(subscriber.key, (), None, **changes)
    pending_ids = sorted(row.id for row in pending)
    recipient = young.guardian_email if young is not None and young.minor else None
    if guard is not None and not await guard.may_send_confirmation(recipient or subscriber.email):
        # The bombing guard: same answer, rows stay pending, but no more mail today.
        log.info("signup.confirmation_withheld", subscriber=subscriber.key, lists=pending_ids)
        return SignupResult(subscriber.key, tuple(pending_ids), None, **changes)
    mail = _confirmation_mail(
        outbox,
        subscriber_key=subscriber.key,
        email=subscriber.email,
        greeting=enrolled.greeting,
        request=request,
        pending=pending,
        young=young,
    )
    # Enqueued before the commit (mail.enqueue_mails): if Redis is down the request fails and
    # nothing is stored, rather than leaving pending rows whose confirmation mail was never sent.
    # Kept in the outbox too: a Redis that loses its data does not lose this mail.
    [job_id] = await keep_and_enqueue(session, outbox.jobs, subscriber.id, [mail])
    log.info("signup.pending", subscriber=subscriber.key, lists=pending_ids, job=job_id)
    return SignupResult(subscriber.key, tuple(pending_ids), job_id, **changes)


async def _first_signup(
    session: AsyncSession,
    request: SignupRequest,
    *,
    source: ConsentSource,
    outbox: Outbox,
    guard: SignupGuard | None,
    public_lists: PublicListDirectory | None,
) -> SignupResult | None:
    """On PostgreSQL, record the first sign-up of an address for public double opt-in lists
    (no youth list) in one statement instead of the general path's six, and its Redis work
    after the per-address limit in one round trip instead of three; the rows, the mail, the
    event and the answer are the general path's for such a sign-up (queries/first_signup.py).

    None, with nothing written, for any other sign-up (a known or erased address, a list
    changed since ``public_lists`` read it, a concurrent first sign-up of the same address):
    the general path then records it.
    """
    engine, jobs = session.bind, outbox.jobs
    if (
        public_lists is None
        or guard is None
        or not driver.on_postgresql(engine)
        or not isinstance(jobs, ArqRedis)
    ):
        return None
    assert isinstance(engine, AsyncEngine)
    known = await public_lists.get()
    lists = [known.get(slug) for slug in dict.fromkeys(request.list_slugs)]
    chosen = [row for row in lists if row is not None and row.double_optin and not row.youth]
    if not chosen or len(chosen) != len(lists):
        return None
    chosen.sort(key=lambda row: row.slug)  # in slug order, as the general path reads them
    try:
        result = await _record_first_signup(
            engine, jobs, request, chosen, source=source, outbox=outbox, guard=guard
        )
    except first_signup.AddressTaken:
        return None
    except driver.DRIVER_ERRORS as exc:
        # Rolled back: the general path answers, with its own handling of a database away.
        log.warning("signup.first_signup_failed", error=type(exc).__name__)
        return None
    if result is None:
        # Erased, or the lists changed since they were read: read them again next time.
        public_lists.forget()
    return result


async def _record_first_signup(
    engine: AsyncEngine,
    jobs: ArqRedis,
    request: SignupRequest,
    lists: Sequence[ListRow],
    *,
    source: ConsentSource,
    outbox: Outbox,
    guard: SignupGuard,
) -> SignupResult | None:
    """The first sign-up to ``lists`` (in slug order); None when nothing was written."""
    now = utcnow()
    key = secrets.token_hex(16)
    list_ids = sorted(row.id for row in lists)
    # A new subscriber has confirmed nothing: the mail greets without a name.
    mail = _confirmation_mail(
        outbox,
        subscriber_key=key,
        email=request.email,
        greeting=None,
        request=request,
        pending=lists,
    )
    job_id = SEND_TRANSACTIONAL.job_id(mail)
    settings = outbox.settings
    async with driver.driver_connection(engine) as connection:
        subscriber_id = await first_signup.insert(
            connection,
            first_signup.NewSubscriber(
                key=key,
                email=request.email,
                email_key=address_identity(request.email),
                email_hash=address_hash(request.email),
                name=request.name,
                language=request.language,
                # The site the admission found (an unknown one was refused there).
                source_site_id=source.site_id,
                custom_values=(
                    None if request.custom is None else msgspec.json.encode(request.custom).decode()
                ),
                municipality=request.municipality,
            ),
            lists=lists,
            consent=consent.records(
                ConsentEvent.REQUESTED,
                list_ids,
                source=ConsentSource(
                    source.form, source.site_id, source.ip, request.consent_version
                ),
                language=request.language,
                now=now,
                record_ip=settings.record_consent_ip,
            ),
            outbox_job_id=job_id,
            outbox_mail=msgspec.json.encode(mail).decode(),
            now=now,
        )
    if subscriber_id is None:
        return None
    joined = slugs_of(lists, list_ids)
    # After the commit, unlike outbox.enqueue_mails: the insert is one statement, and a
    # transaction around it for the enqueue would cost two round trips more. The mail is kept
    # in the outbox by that statement, so if Redis fails here the request fails (as before
    # the commit) but the mail is not lost: the outbox sweep finds no trace of its job and
    # enqueues it. The daily allowance of confirmation mails, the enqueue and the event are
    # one round trip; a mail over the allowance (which a new address has rarely used) is
    # forgotten again, and its rows stay pending, as on the general path.
    event = resident_event("subscriber.subscribed", key, joined)
    allowance, address = guard.confirmation_mails(request.email)
    allowed, _queued = await enqueue_within_limit(
        jobs,
        SEND_TRANSACTIONAL,
        mail,
        limit=allowance,
        key=address,
        entry=resident_event_entry(event) if event else None,
    )
    if not allowed.allowed:
        async with driver.driver_connection(engine) as connection:
            await first_signup.forget_mail(connection, job_id)
        log.info("signup.confirmation_withheld", subscriber=key, lists=list_ids)
        return SignupResult(key, tuple(list_ids), None, joined=joined)
    log.info("signup.pending", subscriber=key, lists=list_ids, job=job_id)
    return SignupResult(key, tuple(list_ids), job_id, joined=joined)


async def _announce_signup(redis: JobQueue, result: SignupResult) -> None:
    await announce(redis, "subscriber.subscribed", result.subscriber_key, result.joined)
    await announce(redis, "subscriber.confirmed", result.subscriber_key, result.confirmed)


def _confirmation_mail(
    outbox: Outbox,
    *,
    subscriber_key: str,
    email: str,
    greeting: str | None,
    request: SignupRequest,
    pending: Sequence[ListRow],
    young: youth.YouthSignup | None = None,
) -> OutboundMail:
    """The mail with the confirm link: to the resident, or to a minor's guardian."""
    signer, settings, language = outbox.signer, outbox.settings, request.language
    names = [list_name(row, language) for row in pending]
    pending_ids = [row.id for row in pending]
    if young is not None and young.guardian_email is not None:
        return render_guardian_request(
            outbox.renderer,
            settings,
            to=young.guardian_email,
            child_email=email,
            birth_year=young.birth_year,
            language=language,
            token=sign_guardian(signer, subscriber_key, pending_ids),
            list_names=names,
            # Unique per sign-up event, like the resident's own confirmation mail.
            message_key=f"guardian:{subscriber_key}:{secrets.token_hex(16)}",
        )
    return render_confirmation(
        outbox.renderer,
        settings,
        to=email,
        subscriber_key=subscriber_key,
        # Only a name the owner has confirmed, never one a stranger typed with the address.
        name=greeting,
        language=language,
        token=sign_confirm(signer, subscriber_key, pending_ids),
        list_names=names,
        preferences_url=preferences_url(settings, sign_preferences(signer, subscriber_key)),
    )


async def inspect_confirm(session: AsyncSession, signer: TokenSigner, token: str) -> LinkTarget:
    """Read a confirm link without changing anything (mail scanners follow links)."""
    key, list_ids = read_confirm_token(signer, token)
    async with session.begin():
        subscriber = await queries.get_subscriber_by_key(session, key)
        lists = await queries.get_lists_by_id(session, list_ids)
        statuses = await _statuses(session, subscriber, list_ids)
    return _link_target(subscriber, lists, statuses)


async def confirm(
    session: AsyncSession,
    signer: TokenSigner,
    token: str,
    *,
    jobs: JobQueue,
    ip: str | None = None,
    record_ip: bool = False,
) -> LinkTarget:
    """Confirm the still-pending subscriptions a link names; repeating it changes nothing.

    Each subscription this confirms is added to the consent record (with ``ip`` only when
    ``record_ip``), and lists with a welcome text send their welcome mail.
    """
    key, list_ids = read_confirm_token(signer, token)
    async with session.begin():
        subscriber = await queries.get_subscriber_by_key(session, key)
        lists = await queries.get_lists_by_id(session, list_ids)
        statuses = await _statuses(session, subscriber, list_ids)
        confirmed: list[int] = []
        if subscriber is not None and statuses:
            confirmed = await enrolment.confirm(
                session,
                subscriber,
                list_ids,
                now=utcnow(),
                ip=ip,
                record_ip=record_ip,
            )
            welcomes = await welcome_mails(session, subscriber, confirmed)
            await keep_and_enqueue(session, jobs, subscriber.id, welcomes)
    await announce(jobs, "subscriber.confirmed", key, slugs_of(lists, confirmed))
    log.info("signup.confirmed", subscriber=key, lists=list_ids, changed=len(confirmed))
    return _link_target(subscriber, lists, statuses, len(confirmed))


async def _statuses(
    session: AsyncSession, subscriber: queries.SubscriberRow | None, list_ids: list[int]
) -> dict[int, str]:
    # A blocked or bounced subscriber's rows count as gone: nothing may be confirmed for them.
    if subscriber is None or subscriber.status != SubscriberStatus.ACTIVE:
        return {}
    statuses = await queries.get_subscription_statuses(session, subscriber.id, list_ids)
    if await queries.is_minor(session, subscriber.id):
        # Only the guardian's link confirms a minor's pending lists.
        return {i: s for i, s in statuses.items() if s == SubscriptionStatus.CONFIRMED}
    return statuses


def _link_target(
    subscriber: queries.SubscriberRow | None,
    lists: list[ListRow],
    statuses: dict[int, str],
    changed: int = 0,
) -> LinkTarget:
    # The statuses are those read before confirming: pending lists are confirmed by now.
    live = tuple(
        row
        for row in lists
        if statuses.get(row.id) in (SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED)
    )
    return LinkTarget(subscriber.language if subscriber else None, live, changed)
