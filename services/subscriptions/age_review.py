"""The age review: a minor who has passed the age of digital consent confirms their own consent.

A daily job finds residents flagged as minors whose year of birth says they are now surely of
age, and mails each one once, asking them to confirm in their own name the newsletters their
guardian agreed to. Confirming (a button on the link's page) records a ``confirmed`` event by
the resident for each list and ends the minor's rules; until then those rules stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.subscriptions import consent, queries, youth
from services.subscriptions.consent import BY_RESIDENT, ConsentSource
from services.subscriptions.i18n import list_name
from services.subscriptions.links import (
    age_review_url,
    preferences_url,
    read_age_review_token,
    sign_age_review,
    sign_preferences,
)
from services.subscriptions.outbox import Outbox, enqueue_mails
from services.subscriptions.queries import ListRow, MinorRow
from shared.clock import utcnow
from shared.contracts import OutboundMail
from shared.statuses import ConsentEvent, SubscriberStatus
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)

# Residents per transaction: each batch is mailed and marked before the next is read.
BATCH_SIZE = 200


@dataclass(frozen=True)
class ReviewTarget:
    """What an age review link is about: the resident's lists, and whether it still applies
    (a minor who has not confirmed yet) or was done."""

    language: str | None
    lists: tuple[ListRow, ...] = ()
    pending: bool = False
    changed: bool = False


async def send_due_reviews(
    sessions: async_sessionmaker[AsyncSession], outbox: Outbox, *, today: date
) -> int:
    """Mail every minor who has passed the age and was not asked yet; return how many."""
    born_by = youth.first_year_of_age(today, outbox.settings.age_of_digital_consent)
    sent = 0
    while True:
        async with sessions() as session, session.begin():
            due = await queries.get_due_age_reviews(
                session, born_in_or_before=born_by, limit=BATCH_SIZE
            )
            if not due:
                break
            mails = [await _review_mail(session, outbox, row) for row in due]
            # Enqueued inside the transaction that marks them asked (outbox.enqueue_mails).
            await enqueue_mails(outbox.jobs, mails)
            await queries.mark_age_review_sent(
                session, [row.subscriber_id for row in due], utcnow()
            )
        sent += len(due)
    log.info("age_review.sent", residents=sent)
    return sent


async def _review_mail(session: AsyncSession, outbox: Outbox, row: MinorRow) -> OutboundMail:
    list_ids = await queries.get_confirmed_list_ids(session, row.subscriber_id)
    lists = await queries.get_lists_by_id(session, list_ids)
    settings, signer = outbox.settings, outbox.signer
    context = {
        "list_names": [list_name(item, row.language) for item in lists],
        "review_url": age_review_url(settings, sign_age_review(signer, row.key)),
        "preferences_url": preferences_url(settings, sign_preferences(signer, row.key)),
        "age": settings.age_of_digital_consent,
    }
    subject = outbox.renderer.render("mail/age_review_subject.txt", row.language, **context)
    return OutboundMail(
        # One review per resident: a retried batch enqueues nothing twice.
        message_key=f"age-review:{row.key}",
        category="confirm",
        to=row.email,
        subject=" ".join(subject.split()),
        text=outbox.renderer.render("mail/age_review.txt", row.language, **context),
        html=outbox.renderer.render("mail/age_review.html", row.language, **context),
        headers={"Auto-Submitted": "auto-generated"},
    )


async def inspect(session: AsyncSession, signer: TokenSigner, token: str) -> ReviewTarget:
    """Read an age review link without changing anything."""
    key = read_age_review_token(signer, token)
    async with session.begin():
        return await _target(session, key)


async def confirm_own_consent(
    session: AsyncSession, signer: TokenSigner, token: str
) -> ReviewTarget:
    """The resident confirms in their own name: a ``confirmed`` event by the resident per
    list they are on, and the minor's rules end. Repeating it changes nothing."""
    key = read_age_review_token(signer, token)
    async with session.begin():
        target = await _target(session, key)
        subscriber = await queries.get_subscriber_by_key(session, key)
        if subscriber is None or not target.pending:
            return target
        now = utcnow()
        if not await queries.end_minority(session, subscriber.id, now):
            return target  # a concurrent confirmation won
        await consent.record(
            session,
            subscriber.id,
            ConsentEvent.CONFIRMED,
            [row.id for row in target.lists],
            source=ConsentSource("link"),
            language=subscriber.language,
            now=now,
            record_ip=False,
            consented_by=BY_RESIDENT,
        )
    log.info("age_review.confirmed", subscriber=key, lists=len(target.lists))
    return ReviewTarget(target.language, target.lists, pending=False, changed=True)


async def _target(session: AsyncSession, key: str) -> ReviewTarget:
    subscriber = await queries.get_subscriber_by_key(session, key)
    if subscriber is None or subscriber.status != SubscriberStatus.ACTIVE:
        return ReviewTarget(None)
    lists = await queries.get_lists_by_id(
        session, await queries.get_confirmed_list_ids(session, subscriber.id)
    )
    minor = await queries.is_minor(session, subscriber.id)
    return ReviewTarget(subscriber.language, tuple(lists), pending=minor)
