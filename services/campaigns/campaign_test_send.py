"""Test sends: a campaign rendered for a real subscriber or a sample one and mailed to a few
staff addresses through the transactional queue.

A test message is marked as one (subject prefixed with "[TEST] ", header ``X-Brevdue-Test:
1``), goes nowhere near the campaign's ledger or figures, and carries links that lead nowhere:
rendered as a real subscriber, a working unsubscribe link would unsubscribe that person.
"""

from __future__ import annotations

from typing import Any, Final
from uuid import uuid4

from email_validator import EmailNotValidError, validate_email
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.campaigns import campaign_row, stored_draft
from services.campaigns.drafts import Rendered, render_message
from services.campaigns.errors import N_, InvalidInput, NotFound, TooManyRequests
from services.campaigns.render_pool import RenderPool
from services.campaigns.sending_schemas import TestSendOut, TestSendRequest
from shared.campaign_templates import sample_context
from shared.contracts import OutboundMail
from shared.jobs import JobQueue, enqueue
from shared.queues import SEND_TRANSACTIONAL
from shared.rate_limit import AttemptWindow, ScriptRunner
from shared.settings import Settings

MAX_ADDRESSES: Final = 5
SUBJECT_PREFIX: Final = "[TEST] "
TEST_HEADER: Final = "X-Brevdue-Test"


async def send_test(
    session: AsyncSession,
    renderer: RenderPool,
    *,
    jobs: JobQueue,
    limits: ScriptRunner,
    settings: Settings,
    actor: str,
    campaign_id: int,
    request: TestSendRequest,
) -> TestSendOut:
    """Render the campaign and queue one test message per address; 422 on a template error,
    429 past the caller's hourly allowance."""
    addresses = _addresses(request.to)
    row = await campaign_row(session, campaign_id)
    context, rendered_as = await _reader(session, settings, request.subscriber_id)
    context["campaign"] = {"id": campaign_id, "subject": row.subject}
    if request.language is not None:
        context["subscriber"] = {**context["subscriber"], "language": request.language}
    # A digest campaign's block for readers of no municipality of their own, in the
    # reader's language (stored HTML from the block template, escaped there).
    block = await queries.digest_block(session, campaign_id, context["subscriber"]["language"], "")
    context["digest"] = Markup(block or "")  # noqa: S704
    draft = await stored_draft(session, row)
    rendered = await renderer.run("body", render_message, draft, context)
    if not isinstance(rendered, Rendered):
        raise InvalidInput(N_("a template does not render"), rendered)
    await _within_allowance(limits, settings, actor)
    subject = SUBJECT_PREFIX + rendered.subject
    batch = uuid4().hex
    for index, address in enumerate(addresses):
        mail = OutboundMail(
            message_key=f"campaign-test:{campaign_id}:{batch}:{index}",
            category="test",
            to=address,
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            headers={TEST_HEADER: "1"},
        )
        await enqueue(jobs, SEND_TRANSACTIONAL, mail)
    return TestSendOut(
        campaign_id=campaign_id, to=addresses, subject=subject, rendered_as=rendered_as
    )


def _addresses(given: list[str]) -> list[str]:
    addresses = list(dict.fromkeys(address.strip() for address in given if address.strip()))
    if not addresses:
        raise InvalidInput(N_("give at least one address"), {"to": "no address"})
    if len(addresses) > MAX_ADDRESSES:
        raise InvalidInput(
            N_("give at most five addresses"), {"to": f"at most {MAX_ADDRESSES} addresses"}
        )
    for address in addresses:
        try:
            validate_email(
                address,
                check_deliverability=False,
                globally_deliverable=False,
                test_environment=True,
                allow_smtputf8=False,
            )
        except EmailNotValidError as exc:
            raise InvalidInput(
                N_("an address is not valid"), {"to": f"{address[:320]}: {exc}"}
            ) from exc
    return addresses


async def _reader(
    session: AsyncSession, settings: Settings, subscriber_id: int | None
) -> tuple[dict[str, Any], str]:
    """The template context of the reader, with links that do nothing."""
    harmless = settings.subscriptions_public_url.rstrip("/")
    links = {
        "unsubscribe_url": f"{harmless}/unsubscribe/test-message",
        "preferences_url": f"{harmless}/preferences/test-message",
        "view_url": f"{harmless}/v/test-message",
    }
    if subscriber_id is None:
        return {**sample_context(), **links}, "sample"
    subscriber = (
        await queries.subscriber_by_id(session, subscriber_id)
        if 0 < subscriber_id <= queries.MAX_ID
        else None
    )
    if subscriber is None:
        raise NotFound("subscriber", subscriber_id)
    context = {
        "subscriber": {
            "name": subscriber.name or "",
            "email": subscriber.email,
            "language": subscriber.language,
        },
        "campaign": {"id": 0, "subject": ""},
        **links,
    }
    return context, f"subscriber:{subscriber.id}"


async def _within_allowance(limits: ScriptRunner, settings: Settings, actor: str) -> None:
    window = AttemptWindow(
        limits, "campaign-test-send", limit=settings.test_sends_per_hour, window=3600
    )
    decision = await window.hit(actor)
    if not decision.allowed:
        raise TooManyRequests(N_("too many test sends; try again later"), decision.retry_after)
