"""HTTP handlers for member sites' forms: widget.js, its form description, CORS preflights,
proof-of-work challenges and the embeddable page."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get, post, route
from litestar.enums import HttpMethod, MediaType
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect

from services.subscriptions import cors, openapi, public_fields, signup, widget
from services.subscriptions.dependencies import (
    Admit,
    Config,
    Lists,
    Mail,
    Pages,
    Session,
    Sites,
    Work,
)
from services.subscriptions.errors import InvalidInput, RateLimited, UnsupportedContentType
from services.subscriptions.http_input import AnyRequest, read_subscribe_body
from services.subscriptions.proof_of_work import Challenge
from services.subscriptions.schemas import MAX_BODY_BYTES, MAX_SITE_KEY
from services.subscriptions.sites import Site
from services.subscriptions.widget import SiteForm

# The URL is not versioned, so browsers re-check now and then; the ETag makes that a 304.
WIDGET_CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


@get("/widget.js", include_in_schema=False)
async def widget_js(request: AnyRequest) -> Response[bytes]:
    """The widget script: gzip when accepted, ETag and an hour of caching."""
    asset = widget.widget_asset()
    headers = {
        "ETag": asset.etag,
        "Cache-Control": WIDGET_CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if widget.etag_matches(request.headers.get("if-none-match"), asset.etag):
        return Response(b"", status_code=304, headers=headers, media_type=asset.media_type)
    if widget.accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, headers=headers, media_type=asset.media_type)
    return Response(asset.body, headers=headers, media_type=asset.media_type)


@get("/api/sites/{key:str}/form", media_type=MediaType.JSON)
async def site_form(
    request: AnyRequest,
    key: FromPath[str],
    *,
    session: Session,
    sites: Sites,
    renderer: Pages,
    settings: Config,
) -> Response[SiteForm]:
    """A site's form for the widget: lists, words and consent text in the form's language."""
    site = await widget.require_site(sites, key)
    cors.allow_if_listed(request, site)
    form = await widget.site_form(
        session,
        site,
        language=widget.request_page_language(request, site),
        wanted_lists=widget.wanted_slugs(request.query_params.get("lists")),
        renderer=renderer,
        settings=settings,
    )
    return Response(form, headers={"Cache-Control": "no-cache"})


@route("/api/sites/{key:str}/form", http_method=[HttpMethod.OPTIONS], include_in_schema=False)
async def site_form_preflight(
    request: AnyRequest, key: FromPath[str], sites: Sites
) -> Response[None]:
    """CORS preflight: granted only to the site's own origins."""
    site = await sites.get(key) if 0 < len(key) <= MAX_SITE_KEY else None
    return cors.preflight(request, _site_allows(site, cors.request_origin(request)))


@route("/subscribe", http_method=[HttpMethod.OPTIONS], include_in_schema=False)
async def subscribe_preflight(request: AnyRequest, sites: Sites) -> Response[None]:
    """CORS preflight for JSON sign-ups. The body names the site, a preflight has none, so any
    member site's origin passes here and the POST itself is checked against its own site."""
    origin = cors.request_origin(request)
    return cors.preflight(request, origin is not None and await sites.any_site_allows(origin))


@get("/altcha/challenge", media_type=MediaType.JSON)
async def altcha_challenge(
    request: AnyRequest, sites: Sites, proof_of_work: Work
) -> Response[Challenge]:
    """A fresh proof-of-work challenge; ``?site=KEY`` lets that site's origins read it."""
    key = request.query_params.get("site") or ""
    site = await sites.get(key) if 0 < len(key) <= MAX_SITE_KEY else None
    cors.allow_if_listed(request, site)
    return Response(proof_of_work.challenge(), headers={"Cache-Control": "no-store"})


@get("/embed/{key:str}", media_type=MediaType.HTML)
async def embed(
    request: AnyRequest,
    key: FromPath[str],
    *,
    session: Session,
    sites: Sites,
    renderer: Pages,
    settings: Config,
) -> Response[str]:
    """A site's sign-up page for an iframe; framable only by the site's allowed origins."""
    site = await widget.require_site(sites, key)
    lang = widget.request_page_language(request, site)
    lists = await widget.form_lists(session, site, lang)
    fields = await public_fields.load(session)
    response = widget.embed_page(
        renderer, site, lang, lists, fields=fields, age=settings.age_of_digital_consent
    )
    # The page's language follows Accept-Language when the URL names none.
    response.headers["Vary"] = "Accept-Language"
    return response


@post(
    "/embed/{key:str}",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_BODY_BYTES,
    operation_class=openapi.EMBED_BODY,
)
async def embed_signup(
    request: AnyRequest,
    key: FromPath[str],
    *,
    session: Session,
    renderer: Pages,
    outbox: Mail,
    admission: Admit,
    public_lists: Lists,
) -> Response[Any]:
    """Sign up from the embed page: 303 to the site's thank-you page (or ours, framable).

    Every refusal is answered here rather than by the app-wide handlers, whose pages forbid
    framing: inside the site's iframe they would show as a blank frame.
    """
    site = await widget.require_site(admission.sites, key)
    lang = widget.request_page_language(request, site)
    try:
        body, _ = await read_subscribe_body(request)
    except (UnsupportedContentType, HTTPException) as exc:
        return widget.embed_error_page(renderer, site, lang, _status_of(exc))
    body = msgspec.structs.replace(body, site=site.key, language=body.language or lang)
    try:
        async with signup.refusals_for_the_form(session, body):
            admitted = await admission.admit(request, body, entry="embed")
            await signup.subscribe(
                session,
                admitted.body,
                source=admitted.source,
                outbox=outbox,
                guard=admission.guard,
                fields=admitted.fields,
                public_lists=public_lists,
            )
    except InvalidInput as exc:
        lists = await widget.form_lists(session, site, lang)
        return widget.embed_page(
            renderer,
            site,
            lang,
            lists,
            values=exc.values,
            problems=exc.problems,
            status_code=422,
            fields=exc.fields,
            age=outbox.settings.age_of_digital_consent,
        )
    except RateLimited as exc:
        return widget.embed_rate_limited_page(renderer, site, lang, exc.retry_after)
    language = str(admitted.body.language)  # validated by signup.subscribe
    return Redirect(widget.thank_you_location(site, language, embedded=True), status_code=303)


@get("/embed/{key:str}/thanks", media_type=MediaType.HTML)
async def embed_thanks(
    request: AnyRequest, key: FromPath[str], sites: Sites, renderer: Pages
) -> Response[str]:
    """The embed page's own thank-you page (sites without a thank-you URL)."""
    site = await widget.require_site(sites, key)
    lang = widget.request_page_language(request, site)
    return widget.embed_thanks_page(renderer, site, lang)


def _status_of(exc: Exception) -> int:
    if isinstance(exc, HTTPException):
        return exc.status_code
    return 415


def _site_allows(site: Site | None, origin: str | None) -> bool:
    return site is not None and origin is not None and origin in site.allowed_origins


# Registered before the other handlers of their paths: Litestar adds a plain OPTIONS handler to
# a path registered without one, and a second OPTIONS handler would then clash with it.
PREFLIGHT_ROUTES = [site_form_preflight, subscribe_preflight]
WIDGET_ROUTES = [
    widget_js,
    site_form,
    altcha_challenge,
    embed,
    embed_signup,
    embed_thanks,
]
