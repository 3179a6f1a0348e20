"""Residents' data rights: export everything stored about an address, and erase it.

Both are open to the resident (through the preference center; an export is delivered as an
expiring link mailed to the address) and to staff (through the campaigns API, which enqueues
``export_subscriber`` / ``erase_subscriber`` jobs that the subscriptions worker runs here).

Erasure deletes the subscriber row with its subscriptions and consent records and keeps only
a salted SHA-256 digest of the address in ``suppressions``, so a later sign-up or import of
that address is refused silently. The mailer's ledger (``deliveries``) keeps its rows: they
hold the deleted row's numeric id, a campaign id and delivery status, and nothing that leads
back to the person once the subscriber row is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import uuid4

import msgspec
import structlog
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import audit, queries
from services.subscriptions.abuse import SignupGuard
from services.subscriptions.consent import CONSENT_TEXTS
from services.subscriptions.links import (
    export_url,
    read_export_token,
    read_preferences_token,
    sign_export,
)
from services.subscriptions.outbox import enqueue_mail
from services.subscriptions.pages import Renderer
from services.subscriptions.queries import (
    AuditEntryRow,
    ConsentHistoryRow,
    DeliveryRow,
    ProfileRow,
    SubscriptionHistoryRow,
)
from shared.clock import utcnow
from shared.contracts import ErasureReport, OutboundMail, SubscriberExport
from shared.jobs import JobQueue
from shared.municipalities import BY_ID
from shared.settings import Settings
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)

EXPORT_FORMAT: Final = "brevdue-export-1"
ERASURE_REASON: Final = "erasure"


@dataclass(frozen=True)
class ExportLink:
    """What an export link points at, for its page."""

    language: str | None
    found: bool


# --- export ---------------------------------------------------------------------------------


async def export_document(
    session: AsyncSession, profile: ProfileRow, renderer: Renderer
) -> dict[str, Any]:
    """Everything stored about a subscriber, as JSON-ready builtins."""
    site_key = (
        await queries.get_site_key(session, profile.source_site_id)
        if profile.source_site_id
        else None
    )
    municipality = BY_ID.get(profile.municipality or "")
    subscriptions = await queries.get_subscriptions_of(session, profile.id)
    events = await queries.get_consent_events_of(session, profile.id)
    deliveries = await queries.get_deliveries_of(session, profile.id)
    entries = await queries.get_audit_entries(session, audit.address_hash(profile.email))
    youth = await queries.get_minor_row(session, profile.id)
    subscriber: dict[str, Any] = {
        "id": profile.id,
        "key": profile.key,
        "email": profile.email,
        "name": profile.name,
        "language": profile.language,
        "status": profile.status,
        "municipality": profile.municipality,
        "municipality_name": municipality.name if municipality else None,
        "custom_fields": profile.custom_values or {},
        "source_site": site_key,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    }
    if youth is not None and youth.birth_year is not None:
        # Youth lists' data, present only for those who gave it (the format's other fields
        # stay as published).
        subscriber.update(
            {
                "birth_year": youth.birth_year,
                "minor": youth.minor,
                "guardian_email": youth.guardian_email,
            }
        )
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow(),
        "subscriber": subscriber,
        "subscriptions": [_exported_subscription(row) for row in subscriptions],
        "consent_events": [_exported_consent(row, renderer) for row in events],
        "deliveries": [_exported_delivery(row) for row in deliveries],
        "audit_log": [_exported_audit_entry(row) for row in entries],
    }
    # Round-trip through JSON so datetimes become ISO strings and every value is a builtin.
    return msgspec.json.decode(msgspec.json.encode(document))  # type: ignore[no-any-return]


def _exported_subscription(row: SubscriptionHistoryRow) -> dict[str, Any]:
    return {
        "list": row.list_slug,
        "status": row.status,
        "requested_at": row.requested_at,
        "confirmed_at": row.confirmed_at,
        "unsubscribed_at": row.unsubscribed_at,
        "source_site": row.site_key,
    }


def _exported_consent(row: ConsentHistoryRow, renderer: Renderer) -> dict[str, Any]:
    # The words the resident agreed to, as shown in the language they saw.
    text = CONSENT_TEXTS.get(row.consent_text_version or "")
    return {
        "list": row.list_slug,
        "event": row.event,
        "at": row.at,
        "source_site": row.site_key,
        "form": row.form,
        "consent_text_version": row.consent_text_version,
        "language": row.language,
        "ip": row.ip,
        "consent_text": renderer.gettext(row.language, text) if text else None,
        # Youth lists say who consented: the resident or their guardian.
        **({"consented_by": row.consented_by} if row.consented_by else {}),
    }


def _exported_delivery(row: DeliveryRow) -> dict[str, Any]:
    return {
        "campaign_id": row.campaign_id,
        "status": row.status,
        "queued_at": row.queued_at,
        "sent_at": row.sent_at,
    }


def _exported_audit_entry(row: AuditEntryRow) -> dict[str, Any]:
    return {"at": row.at, "actor": row.actor, "action": row.action, "details": row.details}


async def request_export(
    session: AsyncSession,
    profile: ProfileRow,
    *,
    jobs: JobQueue,
    signer: TokenSigner,
    renderer: Renderer,
    settings: Settings,
    guard: SignupGuard | None = None,
) -> None:
    """Mail the subscriber an expiring link to their data (only the address owner gets it).

    With ``guard``, a mail past the address's daily allowance raises RateLimited.
    """
    if guard is not None:
        await guard.admit_export_mail(profile.email)
    token = sign_export(signer, profile.key)
    context = {
        "name": profile.name,
        "export_url": export_url(settings, token),
        "max_age_hours": max(1, settings.export_token_max_age // 3600),
    }
    mail = _render_mail(renderer, "export", profile, context)
    async with session.begin():
        await audit.record(
            session, actor=audit.RESIDENT, action=audit.EXPORT_REQUESTED, email=profile.email
        )
        await enqueue_mail(jobs, mail)
    log.info("gdpr.export_requested", subscriber=profile.key)


async def inspect_export(session: AsyncSession, signer: TokenSigner, token: str) -> ExportLink:
    """Read an export link without changing anything; raise InvalidLink when it is bad."""
    key = read_export_token(signer, token)
    async with session.begin():
        profile = await queries.get_profile_by_key(session, key)
    return ExportLink(profile.language if profile else None, profile is not None)


async def download_export(
    session: AsyncSession, signer: TokenSigner, token: str, renderer: Renderer
) -> bytes | None:
    """The export as JSON bytes (None when nothing is held any more), recorded in the audit log."""
    key = read_export_token(signer, token)
    async with session.begin():
        profile = await queries.get_profile_by_key(session, key)
        if profile is None:
            return None
        document = await export_document(session, profile, renderer)
        await audit.record(
            session,
            actor=audit.RESIDENT,
            action=audit.EXPORTED,
            email=profile.email,
            details={"via": "link"},
        )
    log.info("gdpr.exported", subscriber=key)
    return msgspec.json.encode(document)


# --- erasure --------------------------------------------------------------------------------


async def erase(
    session: AsyncSession,
    profile: ProfileRow,
    *,
    actor: str,
    jobs: JobQueue,
    renderer: Renderer,
) -> None:
    """Delete a subscriber's personal data, keep a suppression digest, send a goodbye mail.

    Runs in the caller's transaction. The goodbye mail is rendered before the row goes and
    enqueued before the commit: if Redis is down, nothing is erased and the caller may retry.
    """
    goodbye = _render_mail(renderer, "goodbye", profile, {"name": profile.name})
    now = utcnow()
    digest = audit.address_hash(profile.email)
    await queries.delete_subscriber(session, profile.id)
    await queries.insert_suppression(session, digest, ERASURE_REASON, now)
    await audit.record(
        session, actor=actor, action=audit.ERASED, email=profile.email, details={}, now=now
    )
    await enqueue_mail(jobs, goodbye)
    log.info("gdpr.erased", actor=actor)


async def erase_with_token(
    session: AsyncSession, signer: TokenSigner, token: str, *, jobs: JobQueue, renderer: Renderer
) -> str | None:
    """Erase at the resident's request (preferences link); their language, None when gone."""
    key = read_preferences_token(signer, token)
    async with session.begin():
        profile = await queries.get_profile_by_key(session, key)
        if profile is None:
            return None
        await erase(session, profile, actor=audit.RESIDENT, jobs=jobs, renderer=renderer)
    return profile.language


# --- staff requests (run by the subscriptions worker) ----------------------------------------


def normalise_address(raw: str) -> str | None:
    """An address as sign-up stores it (local part as typed, domain lower-case Unicode)."""
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return f"{checked.local_part}@{checked.domain.lower()}"


async def staff_export(
    session: AsyncSession, email: str, *, actor: str, renderer: Renderer
) -> SubscriberExport:
    """The export for staff: whether the address is known or suppressed, and its document."""
    address = normalise_address(email)
    async with session.begin():
        profile = await queries.get_profile_by_email(session, address) if address else None
        document = await export_document(session, profile, renderer) if profile else None
        suppressed = await queries.is_suppressed(session, audit.address_hash(address or email))
        await audit.record(
            session,
            actor=actor,
            action=audit.EXPORTED,
            email=address or email,
            details={"via": "staff", "found": profile is not None},
        )
    return SubscriberExport(found=profile is not None, suppressed=suppressed, data=document)


async def staff_erase(
    session: AsyncSession, email: str, *, actor: str, jobs: JobQueue, renderer: Renderer
) -> ErasureReport:
    """Erase at a staff request; an unknown address is still suppressed (and audited)."""
    address = normalise_address(email)
    if address is None:
        return ErasureReport(erased=False, reason="invalid_address")
    async with session.begin():
        profile = await queries.get_profile_by_email(session, address)
        if profile is not None:
            await erase(session, profile, actor=actor, jobs=jobs, renderer=renderer)
        else:
            digest = audit.address_hash(address)
            await queries.insert_suppression(session, digest, ERASURE_REASON, utcnow())
            await audit.record(
                session, actor=actor, action=audit.ERASED, email=address, details={"found": False}
            )
    return ErasureReport(erased=profile is not None, suppressed=True)


# --- mail -----------------------------------------------------------------------------------


def _render_mail(
    renderer: Renderer, kind: str, profile: ProfileRow, context: dict[str, Any]
) -> OutboundMail:
    lang = profile.language
    subject = renderer.render(f"mail/{kind}_subject.txt", lang, **context)
    return OutboundMail(
        message_key=f"{kind}:{profile.key}:{uuid4().hex}",
        category="export" if kind == "export" else "goodbye",
        to=profile.email,
        subject=" ".join(subject.split()),
        text=renderer.render(f"mail/{kind}.txt", lang, **context),
        html=renderer.render(f"mail/{kind}.html", lang, **context),
        headers={"Auto-Submitted": "auto-generated"},
    )
