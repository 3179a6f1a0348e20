"""Joining and leaving lists: the one enrolment and the one withdrawal every entry point uses.

Sign-up forms (ours, the widget, the embed page, the JSON API), the preference center, the
unsubscribe link and complaints all change subscriptions through these two functions, so the
consent record, the welcome mail of single opt-in lists and the audit trail are the same
whichever way a resident came in. Both run inside the caller's transaction and report exactly
the rows their statements changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import audit, consent, queries
from services.subscriptions.consent import ConsentSource
from services.subscriptions.greeting import greeting_name
from services.subscriptions.queries import SubscriberRow
from services.subscriptions.welcome import welcome_mails
from shared.contracts import OutboundMail
from shared.statuses import ConsentEvent, SubscriptionStatus


class Member(Protocol):
    """The subscriber columns enrolment and withdrawal read (a subscriber or profile row)."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def language(self) -> str: ...
    @property
    def status(self) -> str: ...


class WantedList(Protocol):
    """A list someone asks to join: its id and whether it needs double opt-in."""

    @property
    def id(self) -> int: ...
    @property
    def double_optin(self) -> bool: ...


@dataclass(frozen=True)
class Enrolment:
    """What joining did: lists requested, lists that now wait for the confirm link, lists
    joined at once (no double opt-in) and their welcome mails."""

    requested: tuple[int, ...] = ()
    pending: tuple[int, ...] = ()
    confirmed: tuple[int, ...] = ()
    welcomes: list[OutboundMail] = field(default_factory=list)
    # The name mail to this address may greet by, read before anything was confirmed here.
    greeting: str | None = None


async def enrol(
    session: AsyncSession,
    member: Member,
    lists: Sequence[WantedList],
    *,
    source: ConsentSource,
    language: str,
    now: datetime,
    record_ip: bool,
    consented_by: str | None = None,
    new_member: bool = False,
) -> Enrolment:
    """Ask to join ``lists``: new and unsubscribed ones become pending and, with pending ones,
    get a ``requested`` consent event; lists without double opt-in are confirmed at once
    (``confirmed`` event, welcome mail). Lists already confirmed are left alone.

    The caller mails the confirmation link for ``pending`` and enqueues ``welcomes``.
    ``consented_by`` goes into the consent record (youth lists say who consented).
    ``new_member``: the member was inserted in this transaction, so has no subscriptions yet
    and was stamped ``updated_at`` just now (two statements fewer for a first sign-up).
    """
    ids = [row.id for row in lists]
    statuses: dict[int, str] = (
        {} if new_member else await queries.get_subscription_statuses(session, member.id, ids)
    )
    await queries.insert_pending_subscriptions(
        session, member.id, [i for i in ids if i not in statuses], source.site_id, now
    )
    reopened = [i for i, status in statuses.items() if status == SubscriptionStatus.UNSUBSCRIBED]
    await queries.reopen_unsubscribed(session, member.id, reopened, source.site_id, now)
    requested = [
        row
        for row in lists
        if statuses.get(row.id, SubscriptionStatus.PENDING) != SubscriptionStatus.CONFIRMED
    ]
    if not requested:
        return Enrolment()
    if not new_member:
        await queries.touch_subscriber(session, member.id, now)
    await consent.record(
        session,
        member.id,
        ConsentEvent.REQUESTED,
        [row.id for row in requested],
        source=source,
        language=language,
        now=now,
        record_ip=record_ip,
        consented_by=consented_by,
    )
    # Read before anything is confirmed below: a list confirmed at once vouches for nothing.
    greeted = _as_subscriber(member)
    greeted = dataclasses.replace(greeted, name=await greeting_name(session, greeted))
    direct = [row.id for row in requested if not row.double_optin]
    confirmed = await confirm(session, member, direct, now=now, ip=source.ip, record_ip=record_ip)
    welcomes = await welcome_mails(session, greeted, confirmed)
    return Enrolment(
        requested=tuple(sorted(row.id for row in requested)),
        pending=tuple(sorted(row.id for row in requested if row.double_optin)),
        confirmed=tuple(confirmed),
        welcomes=welcomes,
        greeting=greeted.name,
    )


async def confirm(
    session: AsyncSession,
    member: Member,
    list_ids: Collection[int],
    *,
    now: datetime,
    ip: str | None,
    record_ip: bool,
    consented_by: str | None = None,
) -> list[int]:
    """Confirm the still-pending subscriptions among ``list_ids``; record a ``confirmed``
    event (by ``consented_by``, else whoever requested) for exactly the rows this changed,
    and return their ids."""
    # Also touches the subscriber (updated_at) when something changed.
    confirmed = await queries.confirm_pending_lists(session, member.id, list_ids, now)
    if confirmed:
        await consent.record_confirmed(
            session,
            member.id,
            confirmed,
            language=member.language,
            now=now,
            ip=ip,
            record_ip=record_ip,
            consented_by=consented_by,
        )
    return confirmed


async def withdraw(
    session: AsyncSession,
    member: Member,
    list_ids: Collection[int] | None,
    *,
    via: str,
    actor: str,
    now: datetime,
    campaign_id: int | None = None,
    language: str | None = None,
    audited: bool = True,
) -> list[int]:
    """Leave ``list_ids`` (None: every list): a ``withdrawn`` event per subscription this
    ended and, when ``audited``, one audit entry. Returns the list ids that changed.

    ``via`` names how the resident withdrew (the consent events' form and the audit detail).
    The preference center's save passes ``audited=False``: it audits the whole change itself.
    """
    # Also touches the subscriber (updated_at) when something changed.
    changed = await queries.leave_lists(session, member.id, list_ids, now)
    if not changed:
        return []
    await queries.insert_consent_events(
        session, member.id, withdrawal_consent(member, changed, via=via, now=now, language=language)
    )
    if audited:
        await audit.record(
            session,
            actor=actor,
            action=audit.UNSUBSCRIBED,
            email=member.email,
            details=withdrawal_details(via, changed, campaign_id),
            now=now,
        )
    return changed


def withdrawal_consent(
    member: Member | None,
    changed: Collection[int],
    *,
    via: str,
    now: datetime,
    language: str | None = None,
) -> list[queries.ConsentRecord]:
    """The ``withdrawn`` consent records of the subscriptions a withdrawal ended. ``member``
    None: for a statement that writes the subscriber's language itself (the records' is
    left empty)."""
    return consent.records(
        ConsentEvent.WITHDRAWN,
        changed,
        source=ConsentSource(via),
        language=language or (member.language if member is not None else ""),
        now=now,
        record_ip=False,
    )


def withdrawal_details(
    via: str, changed: Collection[int], campaign_id: int | None
) -> dict[str, object]:
    """What the audit entry of a withdrawal says beside who and when."""
    details: dict[str, object] = {"via": via, "lists": len(changed)}
    if campaign_id is not None:
        details["campaign_id"] = campaign_id
    return details


def _as_subscriber(member: Member) -> SubscriberRow:
    return SubscriberRow(
        member.id, member.key, member.email, member.name, member.language, member.status
    )
