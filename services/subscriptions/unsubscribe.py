"""Unsubscribing through the signed link in every campaign mail (also RFC 8058 one-click)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import audit, enrolment, queries
from services.subscriptions.links import UnsubscribeLink, read_unsubscribe_token, sign_preferences
from services.subscriptions.queries import driver, link_withdrawal
from services.subscriptions.resident_events import announce, slugs_of
from shared.clock import utcnow
from shared.jobs import JobQueue
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)

# How a withdrawal through the link is recorded (consent events' form, audit detail).
_VIA = "link"


@dataclass(frozen=True)
class UnsubscribeResult:
    """The outcome of an unsubscribe link, for its page."""

    language: str | None
    changed: int = 0
    # The subscriber's preference-center token, for the page's link (None: nobody found).
    preferences_token: str | None = None
    # The lists the link leaves when it names them (the campaign's); empty: every list.
    lists: tuple[queries.ListRow, ...] = ()


async def inspect_unsubscribe(
    session: AsyncSession, signer: TokenSigner, token: str
) -> UnsubscribeResult:
    """Read an unsubscribe link without changing anything (mail scanners follow links)."""
    link = read_unsubscribe_token(signer, token)
    async with session.begin():
        subscriber = await queries.get_subscriber_by_key(session, link.subscriber_key)
        lists = await queries.get_lists_by_id(session, link.list_ids or ())
    return _result(signer, subscriber, lists)


async def unsubscribe(
    session: AsyncSession,
    signer: TokenSigner,
    token: str,
    *,
    jobs: JobQueue | None = None,
    everything: bool = False,
) -> UnsubscribeResult:
    """Leave the lists of the mailing the link came with; with ``everything``, every list.

    RFC 8058's one-click removes the recipient from the mailing the message belongs to: the
    lists the campaign was sent to, which the link names. Links mailed before they named the
    lists leave every list, as they did when they were sent. Unknown subscribers and repeated
    requests get the same answer, so the link is idempotent and reveals nothing.
    """
    link = read_unsubscribe_token(signer, token)
    list_ids = None if everything else link.list_ids
    withdrawal = None
    if driver.on_postgresql(session.bind):
        withdrawal = await _withdraw_on_driver(session.bind, link, list_ids)
    if withdrawal is None:
        withdrawal = await _withdraw(session, link, list_ids)
    subscriber, changed, rows = withdrawal
    if subscriber is None:
        log.info("unsubscribe.unknown_subscriber", campaign=link.campaign_id)
        return UnsubscribeResult(None)
    named = set(list_ids or ())
    lists = [row for row in rows if row.id in named]
    left = [row for row in rows if row.id in changed]
    if jobs is not None:
        await announce(
            jobs,
            "subscriber.unsubscribed",
            subscriber.key,
            slugs_of(left, changed),
            campaign_id=link.campaign_id,
        )
    log.info(
        "unsubscribe.done",
        subscriber=link.subscriber_key,
        campaign=link.campaign_id,
        everything=list_ids is None,
        changed=len(changed),
    )
    return replace(_result(signer, subscriber, lists), changed=len(changed))


# Whose link it was (None: nobody's), the lists the withdrawal ended, and the rows of those
# and of the lists the link names.
_Withdrawal = tuple[queries.SubscriberRow | None, list[int], list[queries.ListRow]]


async def _withdraw(
    session: AsyncSession, link: UnsubscribeLink, list_ids: Collection[int] | None
) -> _Withdrawal:
    async with session.begin():
        subscriber = await queries.get_subscriber_by_key(session, link.subscriber_key)
        if subscriber is None:
            return None, [], []
        changed = await enrolment.withdraw(
            session,
            subscriber,
            list_ids,
            via=_VIA,
            actor=audit.RESIDENT,
            campaign_id=link.campaign_id,
            now=utcnow(),
        )
        # One look-up for the lists the page names and those the announcement names.
        rows = await queries.get_lists_by_id(session, set(list_ids or ()).union(changed))
    return subscriber, changed, rows


async def _withdraw_on_driver(
    engine: Any, link: UnsubscribeLink, list_ids: Collection[int] | None
) -> _Withdrawal | None:
    """``_withdraw`` on PostgreSQL in one statement (queries/link_withdrawal.py); None, with
    nothing changed, when the driver fails: the session's path then answers."""
    now = utcnow()
    # The statement writes each record's list and the subscriber's language.
    [record] = enrolment.withdrawal_consent(None, [0], via=_VIA, now=now)
    try:
        async with driver.driver_connection(engine) as connection:
            return await link_withdrawal.leave(
                connection,
                link.subscriber_key,
                list_ids,
                withdrawal=link_withdrawal.Withdrawal(
                    consent=record,
                    actor=audit.RESIDENT,
                    action=audit.UNSUBSCRIBED,
                    via=_VIA,
                    campaign_id=link.campaign_id,
                ),
                named=list_ids or (),
                now=now,
            )
    except driver.DRIVER_ERRORS as exc:
        log.warning("unsubscribe.driver_failed", error=type(exc).__name__)
        return None


def _result(
    signer: TokenSigner, subscriber: queries.SubscriberRow | None, lists: list[queries.ListRow]
) -> UnsubscribeResult:
    if subscriber is None:
        return UnsubscribeResult(None)
    return UnsubscribeResult(
        subscriber.language,
        preferences_token=sign_preferences(signer, subscriber.key),
        lists=tuple(lists),
    )
