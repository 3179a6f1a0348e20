"""A campaign as one reader gets it: a real confirmed subscriber of its lists or a sample reader,
in a chosen language, with the footer and text part the mailer adds. Rendering runs in the
render pool; the links point at the public pages in that language but carry no valid token,
so nobody is unsubscribed by clicking a preview."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.campaigns import campaign_row, stored_draft
from services.campaigns.content import GMAIL_CLIP_BYTES, rendered_size
from services.campaigns.drafts import Rendered, render_message
from services.campaigns.editor import display_mailbox
from services.campaigns.errors import N_, InvalidInput
from services.campaigns.render_pool import RenderPool
from services.campaigns.schemas import PreviewOut, PreviewRequest
from shared.languages import DEFAULT_LANGUAGE, LANGUAGES, Language, localised

SAMPLE_EMAIL: Final = "maja@example.org"
SEARCH_LIMIT: Final = 10
NOT_A_READER: Final = N_("is not a confirmed subscriber of the campaign's lists")


async def preview_campaign(
    session: AsyncSession,
    renderer: RenderPool,
    campaign_id: int,
    reader: PreviewRequest,
    *,
    mail_from: str,
    public_url: str,
) -> PreviewOut:
    """Render a campaign for ``reader``; InvalidInput when the subscriber is no reader of it or
    a template does not render for them."""
    row = await campaign_row(session, campaign_id)
    slugs = (await queries.list_slugs_of(session, [campaign_id]))[campaign_id]
    lists = [item for item in await queries.all_lists(session) if item.slug in slugs]
    subscriber: dict[str, Any]
    if reader.subscriber_id is not None:
        found = await _reader(session, reader.subscriber_id, [item.id for item in lists])
        own = next((code for code in LANGUAGES if code == found.language), DEFAULT_LANGUAGE)
        language: Language = reader.language or own
        subscriber = {"name": found.name or "", "email": found.email, "language": language}
    else:
        language = reader.language or DEFAULT_LANGUAGE
        subscriber = {"name": reader.name or "", "email": SAMPLE_EMAIL, "language": language}
    context = {
        "subscriber": subscriber,
        "campaign": {"id": campaign_id, "subject": row.subject},
        "unsubscribe_url": f"{public_url.rstrip('/')}/unsubscribe/preview?lang={language}",
        "preferences_url": f"{public_url.rstrip('/')}/preferences/preview?lang={language}",
        "view_url": f"{public_url.rstrip('/')}/v/preview?lang={language}",
    }
    draft = await stored_draft(session, row)
    rendered = await renderer.run("body", render_message, draft, context)
    if not isinstance(rendered, Rendered):
        raise InvalidInput(N_("a template does not render for this reader"), rendered)
    return PreviewOut(
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        language=language,
        subscriber_id=reader.subscriber_id,
        from_address=row.from_address or mail_from,
        to=display_mailbox(subscriber["name"], subscriber["email"]),
        lists=[localised(item, "name", language, item.slug) for item in lists],
        size=rendered_size(rendered.html),
        clipped=rendered_size(rendered.html) > GMAIL_CLIP_BYTES,
    )


async def _reader(
    session: AsyncSession, subscriber_id: int, list_ids: list[int]
) -> queries.RecipientRow:
    found = None
    if 0 < subscriber_id <= queries.MAX_ID:
        found = await queries.recipient_by_id(session, subscriber_id, list_ids)
    if found is None:
        raise InvalidInput(N_("no such reader"), {"subscriber_id": NOT_A_READER})
    return found


async def find_readers(
    session: AsyncSession, campaign_id: int, address_prefix: str
) -> list[queries.RecipientRow]:
    """Up to ``SEARCH_LIMIT`` confirmed subscribers of the campaign's lists whose address
    starts with ``address_prefix`` (case does not matter); none for an empty prefix."""
    prefix = address_prefix.strip().casefold()[:320]
    if not prefix:
        return []
    await campaign_row(session, campaign_id)
    slugs = (await queries.list_slugs_of(session, [campaign_id]))[campaign_id]
    ids = await queries.list_ids_by_slug(session, slugs)
    return await queries.recipients_by_prefix(session, list(ids.values()), prefix, SEARCH_LIMIT)
