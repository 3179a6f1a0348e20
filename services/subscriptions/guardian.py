"""A parent's or guardian's confirmation of a minor's sign-up to youth lists.

The guardian gets the confirmation mail instead of the resident: in plain words, what is
collected about the child and why, and one link. Following the link changes nothing; the
button on its page confirms the pending lists, recorded as consent given by the guardian and
without an IP address.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import enrolment, queries
from services.subscriptions.consent import BY_GUARDIAN
from services.subscriptions.links import read_guardian_token
from services.subscriptions.outbox import enqueue_mails
from services.subscriptions.queries import ListRow, SubscriberRow
from services.subscriptions.signup import LinkTarget
from services.subscriptions.welcome import welcome_mails
from shared.clock import utcnow
from shared.jobs import JobQueue
from shared.statuses import SubscriberStatus, SubscriptionStatus
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)


async def inspect(session: AsyncSession, signer: TokenSigner, token: str) -> LinkTarget:
    """Read a guardian's link without changing anything (mail scanners follow links)."""
    key, list_ids = read_guardian_token(signer, token)
    async with session.begin():
        subscriber, lists, statuses = await _target(session, key, list_ids)
    return _link_target(subscriber, lists, statuses)


async def confirm(
    session: AsyncSession, signer: TokenSigner, token: str, *, jobs: JobQueue
) -> LinkTarget:
    """Confirm the minor's still-pending lists the link names, as consent given by the
    guardian; repeating it changes nothing."""
    key, list_ids = read_guardian_token(signer, token)
    async with session.begin():
        subscriber, lists, statuses = await _target(session, key, list_ids)
        pending = [i for i, status in statuses.items() if status == SubscriptionStatus.PENDING]
        confirmed: list[int] = []
        if subscriber is not None and pending:
            confirmed = await enrolment.confirm(
                session,
                subscriber,
                pending,
                now=utcnow(),
                ip=None,  # a minor's consent is recorded without an IP address
                record_ip=False,
                consented_by=BY_GUARDIAN,
            )
            await enqueue_mails(jobs, await welcome_mails(session, subscriber, confirmed))
    log.info("guardian.confirmed", subscriber=key, lists=list_ids, changed=len(confirmed))
    return _link_target(subscriber, lists, statuses, len(confirmed))


async def _target(
    session: AsyncSession, key: str, list_ids: list[int]
) -> tuple[SubscriberRow | None, list[ListRow], dict[int, str]]:
    """The subscriber, the link's lists and the subscriptions' statuses; none when the
    subscriber is gone, blocked or no longer a minor (the link no longer applies)."""
    subscriber = await queries.get_subscriber_by_key(session, key)
    lists = await queries.get_lists_by_id(session, list_ids)
    if subscriber is None or subscriber.status != SubscriberStatus.ACTIVE:
        return None, lists, {}
    if not await queries.is_minor(session, subscriber.id):
        return None, lists, {}
    statuses = await queries.get_subscription_statuses(session, subscriber.id, list_ids)
    return subscriber, lists, statuses


def _link_target(
    subscriber: SubscriberRow | None,
    lists: list[ListRow],
    statuses: dict[int, str],
    changed: int = 0,
) -> LinkTarget:
    # Confirmed lists stay on the page: confirming twice shows the same answer.
    live = tuple(
        row
        for row in lists
        if statuses.get(row.id) in (SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED)
    )
    return LinkTarget(subscriber.language if subscriber else None, live, changed)
