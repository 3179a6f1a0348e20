"""Campaigns on the web: the public archive and a recipient's own copy ("view in the browser").

Both render the campaign's templates in the staff sandbox (``shared/campaign_templates.py``),
as the mailer does, with the same footer. An archive copy is rendered for a neutral reader:
no name, no address, and unsubscribe and preference links that lead to a page explaining
where the working ones are, so a public page never carries anyone's data or token. Archive
copies are cached per campaign, version and language (anyone may ask for them); a personal copy
needs its signed link and is rendered on each request. Renders run in a thread, so a costly
template (up to its time limit) never holds up the event loop.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import queries
from services.subscriptions.errors import UnknownTrackedLink
from shared import campaign_footer, links
from shared.campaign_templates import CampaignTemplateError, compile_template, render_template
from shared.errors import TokenError
from shared.languages import DEFAULT_LANGUAGE, LANGUAGES
from shared.tokens import TokenSigner

# Rendered archive copies and compiled templates kept per process.
MAX_COPIES: Final = 256
MAX_ID: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Copy:
    """A campaign as one reader sees it: the rendered subject and HTML with its footer."""

    campaign_id: int
    subject: str
    html: str


def archive_path(campaign_id: int) -> str:
    """The path of a campaign's archive page (``shared.links.archive_url`` without the host)."""
    return f"/archive/campaigns/{campaign_id}"


def _language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


class CopyRenderer:
    """Renders campaigns for the web; compiled templates and archive copies are cached."""

    def __init__(self, public_url: str) -> None:
        self._public_url = public_url.rstrip("/")
        self._compiled: OrderedDict[tuple[int, object, str], tuple[Template, Template]] = (
            OrderedDict()
        )
        self._copies: OrderedDict[tuple[int, object, str], Copy] = OrderedDict()

    async def public_copy(self, campaign: queries.ArchivedCampaign, lang: str) -> Copy:
        """The archive copy of a public campaign in ``lang`` (neutral reader, no tokens)."""
        key = (campaign.id, campaign.updated_at, lang)
        cached = self._copies.get(key)
        if cached is not None:
            self._copies.move_to_end(key)
            return cached
        generic = f"{self._public_url}/archive/about?lang={lang}"
        context = {
            "subscriber": {"name": "", "email": "", "language": lang},
            "unsubscribe_url": generic,
            "preferences_url": generic,
            "view_url": links.archive_url(self._public_url, campaign.id),
        }
        copy = await self._render(campaign, context, lang)
        self._copies[key] = copy
        while len(self._copies) > MAX_COPIES:
            self._copies.popitem(last=False)
        return copy

    async def personal_copy(
        self,
        session: AsyncSession,
        signer: TokenSigner,
        campaign: queries.ArchivedCampaign,
        subscriber: queries.SubscriberRow,
        view_token: str,
    ) -> Copy:
        """A recipient's own copy, with their name and their working links, as mailed."""
        list_ids = await queries.get_campaign_list_ids(session, campaign.id)
        unsubscribe = links.sign_unsubscribe(signer, subscriber.key, campaign.id, list_ids)
        preferences = links.sign_preferences(signer, subscriber.key)
        lang = _language(subscriber.language)
        context = {
            "subscriber": {
                "name": subscriber.name or "",
                "email": subscriber.email,
                "language": subscriber.language,
            },
            "unsubscribe_url": links.unsubscribe_url(self._public_url, unsubscribe),
            "preferences_url": links.preferences_url(self._public_url, preferences),
            "view_url": links.view_url(self._public_url, view_token),
        }
        return await self._render(campaign, context, lang)

    async def _render(
        self, campaign: queries.ArchivedCampaign, context: dict[str, Any], lang: str
    ) -> Copy:
        subject_template, body_template = self._templates(campaign, lang)
        # Stored by the campaigns service from its own escaped block template.
        digest = campaign.digest.get(lang) or campaign.digest.get("da", "")
        context = {**context, "digest": Markup(digest)}  # noqa: S704
        return await asyncio.to_thread(
            _render_copy,
            campaign.id,
            subject_template,
            body_template,
            context,
            lang,
            add_footer=campaign.layout is None,
        )

    def _templates(
        self, campaign: queries.ArchivedCampaign, lang: str
    ) -> tuple[Template, Template]:
        # The variant in the page's language, else the campaign's own text (as the mailer
        # chooses for a reader of that language).
        language = lang if lang in campaign.variants else ""
        key = (campaign.id, campaign.updated_at, language)
        compiled = self._compiled.get(key)
        if compiled is None:
            subject, body = campaign.variants.get(language, (campaign.subject, campaign.body))
            compiled = (
                compile_template(subject, field="subject", html=False),
                compile_template(body, field="body", html=True),
            )
            self._compiled[key] = compiled
            while len(self._compiled) > MAX_COPIES:
                self._compiled.popitem(last=False)
        return compiled


def _render_copy(
    campaign_id: int,
    subject: Template,
    body: Template,
    context: dict[str, Any],
    lang: str,
    *,
    add_footer: bool,
) -> Copy:
    context = {**context, "campaign": {"id": campaign_id, "subject": ""}}
    rendered_subject = render_template(subject, context, field="subject")
    context["campaign"] = {"id": campaign_id, "subject": rendered_subject}
    html = render_template(body, context, field="body")
    if not add_footer:
        # A layout's footer carries the links already.
        return Copy(campaign_id, rendered_subject, html)
    footer = campaign_footer.html_footer(
        lang, context["unsubscribe_url"], context["preferences_url"], context["view_url"]
    )
    return Copy(campaign_id, rendered_subject, campaign_footer.with_footer(html, footer))


async def public_campaign(session: AsyncSession, campaign_id: int) -> queries.ArchivedCampaign:
    """A sent campaign marked public; UnknownTrackedLink (a 404) for any other."""
    campaign = (
        await queries.get_sent_campaign(session, campaign_id) if 0 < campaign_id <= MAX_ID else None
    )
    if campaign is None or not campaign.archive_public:
        raise UnknownTrackedLink()
    return campaign


async def view_in_browser(
    session: AsyncSession, signer: TokenSigner, renderer: CopyRenderer, token: str
) -> Copy:
    """The copy a "view in the browser" link leads to; UnknownTrackedLink (a 404) when the
    token is not one of ours, the campaign is not sent or the subscriber was erased."""
    try:
        campaign_id, subscriber_key = links.read_view(signer, token)
    except TokenError:
        raise UnknownTrackedLink() from None
    campaign = (
        await queries.get_sent_campaign(session, campaign_id) if 0 < campaign_id <= MAX_ID else None
    )
    subscriber = await queries.get_subscriber_by_key(session, subscriber_key)
    if campaign is None or subscriber is None:
        raise UnknownTrackedLink()
    try:
        return await renderer.personal_copy(session, signer, campaign, subscriber, token)
    except CampaignTemplateError:
        raise UnknownTrackedLink() from None


async def archive_copy(
    session: AsyncSession, renderer: CopyRenderer, campaign_id: int, lang: str | None
) -> tuple[queries.ArchivedCampaign, Copy]:
    """A public campaign and its archive copy in ``lang``; UnknownTrackedLink when there is
    no such public campaign (or it does not render for a neutral reader)."""
    campaign = await public_campaign(session, campaign_id)
    try:
        return campaign, await renderer.public_copy(campaign, _language(lang))
    except CampaignTemplateError:
        raise UnknownTrackedLink() from None
