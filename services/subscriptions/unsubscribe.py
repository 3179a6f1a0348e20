"""Unsubscribing through the signed link in every campaign mail (also RFC 8058 one-click)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import audit, consent, queries
from services.subscriptions.consent import ConsentSource
from services.subscriptions.links import read_unsubscribe_token
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class UnsubscribeResult:
    """The outcome of an unsubscribe link, for its page."""

    language: str | None
    changed: int = 0


async def inspect_unsubscribe(
    session: AsyncSession, signer: TokenSigner, token: str
) -> UnsubscribeResult:
    """Read an unsubscribe link without changing anything (mail scanners follow links)."""
    key, _campaign_id = read_unsubscribe_token(signer, token)
    async with session.begin():
        subscriber = await queries.get_subscriber_by_key(session, key)
    return UnsubscribeResult(subscriber.language if subscriber else None)


async def unsubscribe(session: AsyncSession, signer: TokenSigner, token: str) -> UnsubscribeResult:
    """Unsubscribe the link's subscriber from every list they are on.

    The rule: an unsubscribe link ends *all* of the subscriber's subscriptions, not only those
    of the campaign that carried it. A resident pressing "unsubscribe" (or a mail provider's
    RFC 8058 one-click button) means "stop sending me mail", and one-click allows no follow-up
    questions. Unknown subscribers and repeated requests get the same answer, so the link is
    idempotent and reveals nothing.
    """
    key, campaign_id = read_unsubscribe_token(signer, token)
    async with session.begin():
        subscriber = await queries.get_subscriber_by_key(session, key)
        if subscriber is None:
            log.info("unsubscribe.unknown_subscriber", campaign=campaign_id)
            return UnsubscribeResult(None)
        changed = await withdraw_everywhere(
            session,
            subscriber,
            via="link",
            actor=audit.RESIDENT,
            campaign_id=campaign_id,
            now=datetime.now(UTC),
        )
    log.info("unsubscribe.done", subscriber=key, campaign=campaign_id, changed=changed)
    return UnsubscribeResult(subscriber.language, changed)


async def withdraw_everywhere(
    session: AsyncSession,
    subscriber: queries.SubscriberRow,
    *,
    via: str,
    actor: str,
    campaign_id: int | None,
    now: datetime,
) -> int:
    """End every subscription, recording a withdrawal per list and one audit entry.

    ``via`` names how the resident withdrew (the consent events' form and the audit detail);
    returns how many subscriptions changed, 0 when there was nothing left to end.
    """
    list_ids = await queries.get_subscribed_list_ids(session, subscriber.id)
    changed = await queries.unsubscribe_all(session, subscriber.id, now)
    if not changed:
        return 0
    await queries.touch_subscriber(session, subscriber.id, now)
    await consent.record(
        session,
        subscriber.id,
        consent.WITHDRAWN,
        list_ids,
        source=ConsentSource(via),
        language=subscriber.language,
        now=now,
        record_ip=False,
    )
    await audit.record(
        session,
        actor=actor,
        action=audit.UNSUBSCRIBED,
        email=subscriber.email,
        details={"via": via, "campaign_id": campaign_id, "lists": len(list_ids)},
        now=now,
    )
    return changed
