"""The optional welcome mail a list sends once a subscription to it is confirmed."""

from __future__ import annotations

from collections.abc import Collection

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import queries
from services.subscriptions.i18n import list_name
from services.subscriptions.queries import SubscriberRow, WelcomeRow
from shared.campaign_templates import CampaignTemplateError, compile_template, render_template
from shared.contracts import OutboundMail

log = structlog.get_logger(__name__)


def welcome_message_key(subscriber_key: str, list_id: int) -> str:
    """One welcome per subscriber and list: a repeated confirmation enqueues nothing new."""
    return f"welcome:{subscriber_key}:{list_id}"


def render_welcome(subscriber: SubscriberRow, row: WelcomeRow) -> OutboundMail | None:
    """The welcome mail of one list in the subscriber's language; None when staff wrote none
    in that language or their template does not render (logged, the confirmation stands)."""
    if not (row.subject and row.subject.strip() and row.body and row.body.strip()):
        return None
    context = {
        "subscriber": {"name": subscriber.name or ""},
        "list": {"name": list_name(row, subscriber.language)},
    }
    try:
        subject = render_template(
            compile_template(row.subject, field="welcome_subject", html=False),
            context,
            field="welcome_subject",
        )
        text = render_template(
            compile_template(row.body, field="welcome_body", html=False),
            context,
            field="welcome_body",
        )
    except CampaignTemplateError as exc:
        log.warning("welcome.template_failed", list_id=row.list_id, error=str(exc)[:200])
        return None
    return OutboundMail(
        message_key=welcome_message_key(subscriber.key, row.list_id),
        category="welcome",
        to=subscriber.email,
        # A subject is one line, whatever the template made of it.
        subject=" ".join(subject.split())[:998],
        text=text,
        headers={"Auto-Submitted": "auto-generated"},
    )


async def welcome_mails(
    session: AsyncSession, subscriber: SubscriberRow, list_ids: Collection[int]
) -> list[OutboundMail]:
    """The welcome mails for lists just confirmed (read inside the confirming transaction)."""
    rows = await queries.get_welcome_texts(session, list_ids, subscriber.language)
    return [mail for row in rows if (mail := render_welcome(subscriber, row)) is not None]
