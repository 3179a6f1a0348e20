"""The preference center: a resident edits lists, language, name, municipality and public
custom fields through the signed link in every mail footer, without logging in."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import audit, enrolment, queries
from services.subscriptions.abuse import SignupGuard
from services.subscriptions.consent import ConsentSource
from services.subscriptions.errors import FieldProblem
from services.subscriptions.i18n import list_name
from services.subscriptions.links import (
    preferences_url,
    read_preferences_token,
    sign_confirm,
    sign_preferences,
)
from services.subscriptions.outbox import Outbox, keep_and_enqueue, render_confirmation
from services.subscriptions.preference_form import (
    FormValues,
    Preferences,
    PreferencesForm,
    check,
)
from services.subscriptions.queries import PreferenceListRow, ProfileRow
from services.subscriptions.resident_events import announce, slugs_of
from shared.clock import utcnow
from shared.jobs import JobQueue
from shared.statuses import SubscriberStatus, SubscriptionStatus
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SaveOutcome:
    """What saving did: problems (nothing stored) or the changes made."""

    problems: dict[str, FieldProblem] = field(default_factory=dict)
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    confirmation_sent: bool = False


async def load(session: AsyncSession, signer: TokenSigner, token: str) -> Preferences | None:
    """The preferences a link points at; None when no data is held (erased or purged).

    Raises InvalidLink for a tampered or foreign token.
    """
    key = read_preferences_token(signer, token)
    async with session.begin():
        return await _load(session, key, token)


async def _load(session: AsyncSession, key: str, token: str) -> Preferences | None:
    profile = await queries.get_profile_by_key(session, key)
    if profile is None:
        return None
    lists = await queries.get_preference_lists(session, profile.id)
    fields = await queries.get_public_custom_fields(session)
    return Preferences(token, profile, tuple(lists), tuple(fields))


async def save(
    session: AsyncSession,
    token: str,
    form: PreferencesForm,
    *,
    outbox: Outbox,
    ip: str | None,
    guard: SignupGuard | None = None,
) -> tuple[Preferences | None, SaveOutcome]:
    """Check and store the form in one transaction; on any problem store nothing.

    Newly ticked lists with double opt-in become pending and get one confirmation mail;
    unticked lists are unsubscribed, and both are added to the consent record. With ``guard``,
    a confirmation mail past the address's daily allowance raises RateLimited (nothing stored).
    """
    key = read_preferences_token(outbox.signer, token)
    async with session.begin():
        prefs = await _load(session, key, token)
        if prefs is None:
            return None, SaveOutcome()
        values, problems = check(prefs, form)
        if problems:
            return prefs, SaveOutcome(problems=problems)
        outcome = await _apply(session, prefs, values, outbox=outbox, ip=ip, guard=guard)
    await announce(outbox.jobs, "subscriber.subscribed", key, outcome.added)
    await announce(outbox.jobs, "subscriber.unsubscribed", key, outcome.removed)
    log.info("preferences.saved", subscriber=key, added=outcome.added, removed=outcome.removed)
    return prefs, outcome


async def unsubscribe_everything(
    session: AsyncSession, signer: TokenSigner, token: str, jobs: JobQueue | None = None
) -> Preferences | None:
    """Unsubscribe from every list (withdrawals recorded); None when no data is held."""
    key = read_preferences_token(signer, token)
    async with session.begin():
        prefs = await _load(session, key, token)
        if prefs is None:
            return None
        left = await enrolment.withdraw(
            session,
            prefs.profile,
            None,
            via="preferences",
            actor=audit.RESIDENT,
            now=utcnow(),
        )
    if jobs is not None:
        await announce(jobs, "subscriber.unsubscribed", key, slugs_of(prefs.lists, left))
    log.info("preferences.unsubscribed_all", subscriber=key, lists=len(left))
    return prefs


# --- storing it -------------------------------------------------------------------------------


async def _apply(
    session: AsyncSession,
    prefs: Preferences,
    values: FormValues,
    *,
    outbox: Outbox,
    ip: str | None,
    guard: SignupGuard | None,
) -> SaveOutcome:
    profile = prefs.profile
    now = utcnow()
    changed = [
        name
        for name, old, new in (
            ("name", profile.name, values.name),
            ("language", profile.language, values.language),
            ("municipality", profile.municipality, values.municipality),
            ("custom_fields", profile.custom_values or None, values.custom),
        )
        if old != new
    ]
    if changed:
        await queries.update_profile(
            session,
            profile.id,
            name=values.name,
            language=values.language,
            municipality=values.municipality,
            custom_values=values.custom,
            now=now,
        )
    current = {
        row.id
        for row in prefs.lists
        if row.status in (SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED)
    }
    removed = sorted(current - values.wanted)
    # A blocked subscriber may leave lists but not join new ones.
    added = [
        row
        for row in prefs.lists
        if row.id in values.wanted
        and row.id not in current
        and profile.status == SubscriberStatus.ACTIVE
    ]
    if removed:
        # Audited below with the rest of the change, as one preference change.
        removed = await enrolment.withdraw(
            session,
            profile,
            removed,
            via="preferences",
            actor=audit.RESIDENT,
            now=now,
            language=values.language,
            audited=False,
        )
    sent = False
    if added:
        sent = await _join(
            session,
            profile,
            added,
            values,
            now=now,
            outbox=outbox,
            ip=ip,
            guard=guard,
        )
    slugs = {row.id: row.slug for row in prefs.lists}
    outcome = SaveOutcome(
        added=tuple(row.slug for row in added),
        removed=tuple(slugs[list_id] for list_id in removed),
        confirmation_sent=sent,
    )
    if changed or added or removed:
        await queries.touch_subscriber(session, profile.id, now)
        await audit.record(
            session,
            actor=audit.RESIDENT,
            action=audit.PREFERENCES_CHANGED,
            email=profile.email,
            details={
                "fields": changed,
                "added": list(outcome.added),
                "removed": list(outcome.removed),
            },
            now=now,
        )
    return outcome


async def _join(
    session: AsyncSession,
    profile: ProfileRow,
    added: Sequence[PreferenceListRow],
    values: FormValues,
    *,
    now: datetime,
    outbox: Outbox,
    ip: str | None,
    guard: SignupGuard | None,
) -> bool:
    """Join newly ticked lists as any sign-up does; True when a confirmation mail was
    enqueued."""
    # The profile as just saved: a welcome mail greets the resident in their new language.
    member = dataclasses.replace(profile, name=values.name, language=values.language)
    enrolled = await enrolment.enrol(
        session,
        member,
        added,
        source=ConsentSource("preferences", ip=ip),
        language=values.language,
        now=now,
        record_ip=outbox.settings.record_consent_ip,
    )
    needs_mail = [row for row in added if row.id in enrolled.pending]
    if needs_mail and guard is not None:
        # Raised inside the transaction and before any mail is queued: the refused save
        # leaves nothing behind.
        await guard.admit_confirmation_mail(profile.email)
    await keep_and_enqueue(session, outbox.jobs, profile.id, enrolled.welcomes)
    if not needs_mail:
        return False
    signer, settings = outbox.signer, outbox.settings
    mail = render_confirmation(
        outbox.renderer,
        settings,
        to=profile.email,
        subscriber_key=profile.key,
        name=values.name,
        language=values.language,
        token=sign_confirm(signer, profile.key, [row.id for row in needs_mail]),
        list_names=[list_name(row, values.language) for row in needs_mail],
        preferences_url=preferences_url(settings, sign_preferences(signer, profile.key)),
    )
    # Before the commit, as in sign-up: no pending rows whose mail was never queued.
    await keep_and_enqueue(session, outbox.jobs, profile.id, [mail])
    return True
