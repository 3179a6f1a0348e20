"""The public archive (``/archive/…``) and "view in the browser" (``/v/{token}``)."""

from __future__ import annotations

import re
from typing import Final

from litestar import Response, get
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.params import FromPath

from services.subscriptions import archive, queries
from services.subscriptions.archive_feed import atom_feed
from services.subscriptions.dependencies import Config, Pages, Session, Signer
from services.subscriptions.errors import UnknownTrackedLink
from services.subscriptions.http_input import AnyRequest
from services.subscriptions.i18n import list_name
from services.subscriptions.pages import PAGE_HEADERS, request_language
from shared.campaign_templates import CampaignTemplateError

# What a list slug can be (as the campaigns service accepts them); anything else names none.
_SLUG: Final = re.compile(r"[a-z0-9-]{1,64}")
# Entries on a list's archive page and in its feed.
ARCHIVE_ENTRIES: Final = 50
# Staff HTML is shown as its own sandboxed document: no script runs, nothing is fetched but
# images, and it cannot reach this site (the sandbox gives it an origin of its own).
COPY_HEADERS: Final = {
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
# A personal copy carries its reader's name and links: never cached, never indexed or framed.
PERSONAL_COPY_HEADERS: Final = {
    **COPY_HEADERS,
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store, private",
    "X-Robots-Tag": "noindex",
}
# The archive page frames its copy from this site.
ARCHIVE_PAGE_HEADERS: Final = {
    **PAGE_HEADERS,
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"] + "; frame-src 'self'",
    "Cache-Control": "public, max-age=300",
}


def _copy_renderer(state: State) -> archive.CopyRenderer:
    renderer: archive.CopyRenderer = state.copies
    return renderer


async def _public_list(session: Session, slug: str) -> queries.ArchiveList:
    found = await queries.get_archive_list(session, slug) if _SLUG.fullmatch(slug) else None
    if found is None:
        raise UnknownTrackedLink()
    return found


@get("/archive/about", media_type=MediaType.HTML)
async def about_archive_copies(request: AnyRequest, renderer: Pages) -> Response[str]:
    """Where an archive copy's unsubscribe and preference links lead: the working ones are in
    the reader's own mail."""
    return renderer.page("archive_about.html", request_language(request), path=request.url.path)


@get("/archive/lists/{slug:str}", media_type=MediaType.HTML)
async def list_archive(
    request: AnyRequest, slug: FromPath[str], session: Session, renderer: Pages, state: State
) -> Response[str]:
    """A public list's public campaigns, newest first, with its feed."""
    lang = request_language(request)
    found = await _public_list(session, slug)
    campaigns = await queries.get_public_campaigns_of(session, found.id, ARCHIVE_ENTRIES)
    copies = _copy_renderer(state)
    entries = []
    for campaign in campaigns:
        try:
            copy = await copies.public_copy(campaign, lang)
        except CampaignTemplateError:
            continue  # it no longer renders for a neutral reader: not listed
        entries.append((campaign, copy))
    response = renderer.page(
        "archive_list.html",
        lang,
        path=request.url.path,
        list_name=list_name(found, lang),
        slug=found.slug,
        entries=entries,
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@get("/archive/lists/{slug:str}/feed.atom")
async def list_feed(
    request: AnyRequest, slug: FromPath[str], session: Session, settings: Config, state: State
) -> Response[bytes]:
    """A public list's Atom feed of its public campaigns."""
    lang = request_language(request)
    found = await _public_list(session, slug)
    campaigns = await queries.get_public_campaigns_of(session, found.id, ARCHIVE_ENTRIES)
    copies = _copy_renderer(state)
    entries = []
    for campaign in campaigns:
        try:
            entries.append((campaign, await copies.public_copy(campaign, lang)))
        except CampaignTemplateError:
            continue
    body = atom_feed(
        public_url=settings.subscriptions_public_url,
        slug=found.slug,
        title=list_name(found, lang),
        lang=lang,
        entries=entries,
    )
    return Response(
        body,
        media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@get("/archive/campaigns/{campaign_id:int}", media_type=MediaType.HTML)
async def campaign_archive_page(
    request: AnyRequest, campaign_id: FromPath[int], session: Session, renderer: Pages, state: State
) -> Response[str]:
    """A public campaign's page in the reader's language: its copy in a sandboxed frame."""
    lang = request_language(request)
    campaign, copy = await archive.archive_copy(session, _copy_renderer(state), campaign_id, lang)
    response = renderer.page(
        "archive_campaign.html",
        lang,
        path=request.url.path,
        campaign=campaign,
        subject=copy.subject,
        content_url=f"{archive.archive_path(campaign.id)}/content?lang={lang}",
    )
    response.headers.update(ARCHIVE_PAGE_HEADERS)
    return response


@get("/archive/campaigns/{campaign_id:int}/content", media_type=MediaType.HTML)
async def campaign_archive_content(
    request: AnyRequest, campaign_id: FromPath[int], session: Session, state: State
) -> Response[str]:
    """A public campaign's copy itself (framed by its page), for a neutral reader."""
    _campaign, copy = await archive.archive_copy(
        session, _copy_renderer(state), campaign_id, request.query_params.get("lang")
    )
    headers = {**COPY_HEADERS, "Cache-Control": "public, max-age=300"}
    return Response(copy.html, media_type=MediaType.HTML, headers=headers)


@get("/v/{token:str}", media_type=MediaType.HTML)
async def view_in_browser(
    token: FromPath[str], session: Session, signer: Signer, state: State
) -> Response[str]:
    """A recipient's own copy of a campaign that is not public, behind its signed link."""
    copy = await archive.view_in_browser(session, signer, _copy_renderer(state), token)
    return Response(copy.html, media_type=MediaType.HTML, headers=PERSONAL_COPY_HEADERS)


ARCHIVE_ROUTES = [
    about_archive_copies,
    list_archive,
    list_feed,
    campaign_archive_page,
    campaign_archive_content,
    view_in_browser,
]
