"""Unsubscribing through the signed link in every campaign mail (also RFC 8058 one-click)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import audit, enrolment, queries
from services.subscriptions.links import read_unsubscribe_token, sign_preferences
from services.subscriptions.resident_events import announce, slugs_of
from shared.clock import utcnow
from shared.jobs import JobQueue
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)


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
    async with session.begin():
        subscriber = await queries.get_subscriber_by_key(session, link.subscriber_key)
        if subscriber is None:
            log.info("unsubscribe.unknown_subscriber", campaign=link.campaign_id)
            return UnsubscribeResult(None)
        list_ids = None if everything else link.list_ids
        changed = await enrolment.withdraw(
            session,
            subscriber,
            list_ids,
            via="link",
            actor=audit.RESIDENT,
            campaign_id=link.campaign_id,
            now=utcnow(),
        )
        # One look-up for the lists the page names and those the announcement names.
        named = set(list_ids or ())
        rows = await queries.get_lists_by_id(session, named.union(changed))
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
