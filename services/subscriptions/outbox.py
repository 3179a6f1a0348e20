"""The confirmation mail of a sign-up, rendered here and delivered as it is by the mailer."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import queries
from services.subscriptions.links import confirm_url, guardian_url
from services.subscriptions.pages import Renderer
from shared.clock import utcnow
from shared.contracts import OutboundMail
from shared.jobs import JobQueue, enqueue
from shared.queues import SEND_TRANSACTIONAL
from shared.settings import Settings
from shared.tokens import TokenSigner


def render_confirmation(
    renderer: Renderer,
    settings: Settings,
    *,
    to: str,
    subscriber_key: str,
    name: str | None,
    language: str,
    token: str,
    list_names: Sequence[str],
    preferences_url: str | None = None,
) -> OutboundMail:
    """A confirmation mail in ``language`` with one link that confirms ``list_names``.

    ``preferences_url`` adds the subscriber's preference-center link to the footer.
    """
    # Every sign-up sends one: rendered once per language and lists, links and name put in.
    slots = {
        "name": name,
        "confirm_url": confirm_url(settings, token),
        "preferences_url": preferences_url,
    }
    names, max_age_days = tuple(list_names), max(1, settings.confirm_token_max_age // 86400)

    def render(template: str) -> str:
        return renderer.render_filled(
            template, language, slots, list_names=names, max_age_days=max_age_days
        )

    subject = render("mail/confirm_subject.txt")
    return OutboundMail(
        # Unique per sign-up event: a second sign-up sends a fresh mail, while a retried
        # enqueue of this very mail is dropped by its job id.
        message_key=f"confirm:{subscriber_key}:{secrets.token_hex(16)}",
        category="confirm",
        to=to,
        # A subject is one line; templates end with a newline.
        subject=" ".join(subject.split()),
        text=render("mail/confirm.txt"),
        html=render("mail/confirm.html"),
        headers={"Auto-Submitted": "auto-generated"},
    )


def render_guardian_request(
    renderer: Renderer,
    settings: Settings,
    *,
    to: str,
    child_email: str,
    birth_year: int,
    language: str,
    token: str,
    list_names: Sequence[str],
    message_key: str,
) -> OutboundMail:
    """The mail asking a parent or guardian to confirm a minor's sign-up, in ``language``."""
    context = {
        "child_email": child_email,
        "birth_year": birth_year,
        "list_names": list(list_names),
        "confirm_url": guardian_url(settings, token),
        "max_age_days": max(1, settings.confirm_token_max_age // 86400),
        "age": settings.age_of_digital_consent,
    }
    subject = renderer.render("mail/guardian_subject.txt", language, **context)
    return OutboundMail(
        message_key=message_key,
        category="confirm",
        to=to,
        subject=" ".join(subject.split()),
        text=renderer.render("mail/guardian.txt", language, **context),
        html=renderer.render("mail/guardian.html", language, **context),
        headers={"Auto-Submitted": "auto-generated"},
    )


@dataclass(frozen=True)
class Outbox:
    """What writing and sending residents' mail takes, passed around as one: the job queue,
    the link signer, the templates and the settings (public URL, token ages)."""

    jobs: JobQueue
    signer: TokenSigner
    renderer: Renderer
    settings: Settings


async def enqueue_mail(jobs: JobQueue, mail: OutboundMail) -> str:
    """Hand a rendered mail to the mailer; the job id makes a repeated enqueue a no-op."""
    await enqueue(jobs, SEND_TRANSACTIONAL, mail)
    return SEND_TRANSACTIONAL.job_id(mail)


async def enqueue_mails(jobs: JobQueue, mails: Sequence[OutboundMail]) -> list[str]:
    """Hand mails that follow a state change to the mailer; return their job ids.

    The one policy for such mail: enqueue inside the transaction that makes the change, before
    its commit. If Redis is away the request fails and nothing changes, so no change is ever
    stored whose mail was lost; the deterministic job ids make a retried request send nothing
    twice.
    """
    return [await enqueue_mail(jobs, mail) for mail in mails]


async def keep_and_enqueue(
    session: AsyncSession, jobs: JobQueue, subscriber_id: int, mails: Sequence[OutboundMail]
) -> list[str]:
    """``enqueue_mails``, with each mail also kept in the outbox, in the same transaction.

    The queue lives in Redis. A Redis that loses its data (FLUSHALL, an empty replica promoted)
    would take a confirmation mail with it, after the resident was told to look for it; the
    outbox sweep (outbox_sweep.py) replays a kept mail that Redis has no trace of.
    """
    now = utcnow()
    for mail in mails:
        await queries.insert_outbox_mail(
            session,
            job_id=SEND_TRANSACTIONAL.job_id(mail),
            subscriber_id=subscriber_id,
            mail=msgspec.json.encode(mail).decode(),
            now=now,
        )
    return await enqueue_mails(jobs, mails)
