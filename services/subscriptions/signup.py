"""Signing up with double opt-in: subscribe (request) and confirm (the link in the mail)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import consent, public_fields, queries
from services.subscriptions.abuse import SignupGuard, is_honeypot_filled, minimum_duration
from services.subscriptions.audit import address_hash
from services.subscriptions.consent import ConsentSource
from services.subscriptions.errors import FieldProblem, InvalidInput, ListChoice
from services.subscriptions.greeting import greeting_name
from services.subscriptions.links import (
    preferences_url,
    read_confirm_token,
    sign_confirm,
    sign_preferences,
)
from services.subscriptions.mail import JobQueue, enqueue_mail, render_confirmation
from services.subscriptions.pages import Renderer
from services.subscriptions.queries import ACTIVE, CONFIRMED, PENDING, UNSUBSCRIBED, ListRow
from services.subscriptions.schemas import (
    SignupRequest,
    SubscribeBody,
    shown_values,
    validate_signup,
)
from services.subscriptions.welcome import send_welcomes, welcome_mails
from shared.contracts import OutboundMail
from shared.settings import Settings
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
    return ListChoice(row.slug, {"da": row.name_da, "sv": row.name_sv, "en": row.name_en})


def list_name(row: ListRow, language: str) -> str:
    """A list's name in ``language``."""
    names = {"da": row.name_da, "sv": row.name_sv, "en": row.name_en}
    return names.get(language) or row.slug


async def public_list_choices(session: AsyncSession) -> list[ListChoice]:
    """The lists a resident may choose on the form."""
    async with session.begin():
        return [list_choice(row) for row in await queries.get_public_lists(session)]


async def refused(
    session: AsyncSession, exc: InvalidInput, values: dict[str, object], language: str | None
) -> InvalidInput:
    """``exc`` with what the form needs to be shown again: list choices and public fields."""
    choices = await public_list_choices(session)
    fields = await public_fields.load(session)
    return InvalidInput(exc.problems, values, choices, language, fields=fields)


async def subscribe(
    session: AsyncSession,
    body: SubscribeBody,
    *,
    jobs: JobQueue,
    signer: TokenSigner,
    renderer: Renderer,
    settings: Settings,
    source: ConsentSource | None = None,
    guard: SignupGuard | None = None,
) -> SignupResult:
    """Record a sign-up and enqueue one confirmation mail when any of its lists is pending.

    Raises InvalidInput (nothing stored) when a field is wrong or a list is unknown/private.
    ``source`` says which form it came from (and the client IP) for the consent record.
    ``guard`` applies the rate limits, the MX check and the daily cap on confirmation mails
    (raises RateLimited); every accepted sign-up then takes at least its minimum duration.
    """
    source = source or ConsentSource()
    if guard is not None:
        await guard.admit_client(source.ip or "unknown")
    fields = await public_fields.load(session)
    try:
        request = validate_signup(body, fields)
    except InvalidInput as exc:
        language = body.language if isinstance(body.language, str) else None
        raise await refused(session, exc, exc.values, language) from None
    async with minimum_duration(guard.min_duration if guard else 0.0):
        if is_honeypot_filled(body.website):
            # Answered like any sign-up so the bot learns nothing; nothing stored or sent.
            log.info("signup.honeypot", site=request.site_key)
            return SignupResult("", (), None)
        if guard is not None:
            await _check_address(session, guard, request, body)
        return await _subscribe_with_retries(
            session,
            request,
            body,
            jobs=jobs,
            signer=signer,
            renderer=renderer,
            settings=settings,
            source=source,
            guard=guard,
        )


async def _check_address(
    session: AsyncSession, guard: SignupGuard, request: SignupRequest, body: SubscribeBody
) -> None:
    """The MX check (when on), then the per-address limit; both before any lookup of the
    address, so neither can tell whether it is known."""
    if not await guard.is_deliverable(request.email):
        problem = InvalidInput({"email": FieldProblem("undeliverable")})
        raise await refused(session, problem, shown_values(body), request.language)
    await guard.admit_address(request.email)


async def _subscribe_with_retries(
    session: AsyncSession,
    request: SignupRequest,
    body: SubscribeBody,
    *,
    jobs: JobQueue,
    signer: TokenSigner,
    renderer: Renderer,
    settings: Settings,
    source: ConsentSource,
    guard: SignupGuard | None,
) -> SignupResult:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            async with session.begin():
                return await _subscribe(
                    session,
                    request,
                    body,
                    jobs=jobs,
                    signer=signer,
                    renderer=renderer,
                    settings=settings,
                    source=source,
                    guard=guard,
                )
        except (IntegrityError, OperationalError):
            if attempt == _ATTEMPTS:
                raise
            log.info("signup.retry", attempt=attempt)
    raise AssertionError("unreachable")


async def _subscribe(
    session: AsyncSession,
    request: SignupRequest,
    body: SubscribeBody,
    *,
    jobs: JobQueue,
    signer: TokenSigner,
    renderer: Renderer,
    settings: Settings,
    source: ConsentSource,
    guard: SignupGuard | None,
) -> SignupResult:
    lists = await queries.get_public_lists_by_slug(session, request.list_slugs)
    found = {row.slug for row in lists}
    missing = [slug for slug in request.list_slugs if slug not in found]
    if missing:
        # Private lists are reported exactly like unknown ones, so they cannot be discovered.
        choices = [list_choice(row) for row in await queries.get_public_lists(session)]
        raise InvalidInput(
            {"lists": FieldProblem("unknown", missing[0])},
            shown_values(body),
            choices,
            request.language,
            fields=await queries.get_public_custom_fields(session),
        )
    site_id = await queries.get_site_id(session, request.site_key) if request.site_key else None
    if await queries.is_suppressed(session, address_hash(request.email)):
        # Erased at the resident's request: same answer, nothing stored, nothing sent.
        log.info("signup.suppressed_address")
        return SignupResult("", (), None)
    now = datetime.now(UTC)
    subscriber = await queries.get_subscriber_by_email(session, request.email)
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
            custom_values=request.custom,
        )
    elif subscriber.status != ACTIVE:
        # A blocked or erased address gets the same answer and no mail.
        log.info("signup.suppressed", subscriber=subscriber.key)
        return SignupResult(subscriber.key, (), None)
    statuses = await queries.get_subscription_statuses(
        session, subscriber.id, [row.id for row in lists]
    )
    new_ids = [row.id for row in lists if row.id not in statuses]
    reopened_ids = [list_id for list_id, status in statuses.items() if status == UNSUBSCRIBED]
    await queries.insert_pending_subscriptions(session, subscriber.id, new_ids, site_id, now)
    await queries.reopen_unsubscribed(session, subscriber.id, reopened_ids, site_id, now)
    requested = [row for row in lists if statuses.get(row.id, PENDING) in (PENDING, UNSUBSCRIBED)]
    if not requested:
        log.info("signup.already_confirmed", subscriber=subscriber.key)
        return SignupResult(subscriber.key, (), None)
    await queries.touch_subscriber(session, subscriber.id, now)
    # Read before anything is confirmed below: a list confirmed at once vouches for nothing.
    greeted = subscriber._replace(name=await greeting_name(session, subscriber))
    await consent.record(
        session,
        subscriber.id,
        consent.REQUESTED,
        [row.id for row in requested],
        source=ConsentSource(source.form, site_id, source.ip, request.consent_version),
        language=request.language,
        now=now,
        record_ip=settings.record_consent_ip,
    )
    # Lists whose staff turned double opt-in off are confirmed at once, with their welcome.
    await _confirm_at_once(
        session,
        greeted,
        [row.id for row in requested if not row.double_optin],
        jobs=jobs,
        source=source,
        settings=settings,
        now=now,
    )
    pending = [row for row in requested if row.double_optin]
    if not pending:
        return SignupResult(subscriber.key, (), None)
    pending_ids = sorted(row.id for row in pending)
    if guard is not None and not await guard.may_send_confirmation(subscriber.email):
        # The bombing guard: same answer, rows stay pending, but no more mail today.
        log.info("signup.confirmation_withheld", subscriber=subscriber.key, lists=pending_ids)
        return SignupResult(subscriber.key, tuple(pending_ids), None)
    mail = render_confirmation(
        renderer,
        settings,
        to=subscriber.email,
        subscriber_key=subscriber.key,
        # Only a name the owner has confirmed, never one a stranger typed with the address.
        name=greeted.name,
        language=request.language,
        token=sign_confirm(signer, subscriber.key, pending_ids),
        list_names=[list_name(row, request.language) for row in pending],
        preferences_url=preferences_url(settings, sign_preferences(signer, subscriber.key)),
    )
    # Enqueued before the commit: if Redis is down the request fails and nothing is stored,
    # rather than leaving pending rows whose confirmation mail was never sent.
    job_id = await enqueue_mail(jobs, mail)
    log.info("signup.pending", subscriber=subscriber.key, lists=pending_ids, job=job_id)
    return SignupResult(subscriber.key, tuple(pending_ids), job_id)


async def _confirm_at_once(
    session: AsyncSession,
    subscriber: queries.SubscriberRow,
    list_ids: list[int],
    *,
    jobs: JobQueue,
    source: ConsentSource,
    settings: Settings,
    now: datetime,
) -> None:
    confirmed = await queries.confirm_pending_lists(session, subscriber.id, list_ids, now)
    if not confirmed:
        return
    await consent.record_confirmed(
        session,
        subscriber.id,
        confirmed,
        language=subscriber.language,
        now=now,
        ip=source.ip,
        record_ip=settings.record_consent_ip,
    )
    # Enqueued before the commit, like the confirmation mail.
    await send_welcomes(jobs, await welcome_mails(session, subscriber, confirmed))
    log.info("signup.confirmed_at_once", subscriber=subscriber.key, lists=confirmed)


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
    ip: str | None = None,
    record_ip: bool = False,
    jobs: JobQueue | None = None,
) -> LinkTarget:
    """Confirm the still-pending subscriptions a link names; repeating it changes nothing.

    Each confirmation is added to the consent record (with ``ip`` only when ``record_ip``).
    With ``jobs``, newly confirmed lists that have a welcome text send their welcome mail.
    """
    welcomes: list[OutboundMail] = []
    key, list_ids = read_confirm_token(signer, token)
    async with session.begin():
        subscriber = await queries.get_subscriber_by_key(session, key)
        lists = await queries.get_lists_by_id(session, list_ids)
        statuses = await _statuses(session, subscriber, list_ids)
        changed = 0
        if subscriber is not None and statuses:
            now = datetime.now(UTC)
            pending_ids = [list_id for list_id, status in statuses.items() if status == PENDING]
            confirmed = await queries.confirm_pending_lists(
                session, subscriber.id, pending_ids, now
            )
            changed = len(confirmed)
            if changed:
                welcomes = await welcome_mails(session, subscriber, confirmed)
                await queries.touch_subscriber(session, subscriber.id, now)
                await consent.record_confirmed(
                    session,
                    subscriber.id,
                    pending_ids,
                    language=subscriber.language,
                    now=now,
                    ip=ip,
                    record_ip=record_ip,
                )
    log.info("signup.confirmed", subscriber=key, lists=list_ids, changed=changed)
    if jobs is not None and welcomes:
        await _send_welcomes_after_confirm(jobs, welcomes)
    return _link_target(subscriber, lists, statuses, changed)


async def _statuses(
    session: AsyncSession, subscriber: queries.SubscriberRow | None, list_ids: list[int]
) -> dict[int, str]:
    # A blocked or bounced subscriber's rows count as gone: nothing may be confirmed for them.
    if subscriber is None or subscriber.status != ACTIVE:
        return {}
    return await queries.get_subscription_statuses(session, subscriber.id, list_ids)


def _link_target(
    subscriber: queries.SubscriberRow | None,
    lists: list[ListRow],
    statuses: dict[int, str],
    changed: int = 0,
) -> LinkTarget:
    # The statuses are those read before confirming: pending lists are confirmed by now.
    live = tuple(row for row in lists if statuses.get(row.id) in (PENDING, CONFIRMED))
    return LinkTarget(subscriber.language if subscriber else None, live, changed)


async def _send_welcomes_after_confirm(jobs: JobQueue, mails: list[OutboundMail]) -> None:
    # After the commit: the confirmation stands even when Redis is briefly away; the welcome
    # is a courtesy, and its deterministic job id keeps a repeated confirm from sending twice.
    try:
        await send_welcomes(jobs, mails)
    except Exception as exc:
        log.warning("welcome.not_queued", error=type(exc).__name__, count=len(mails))
