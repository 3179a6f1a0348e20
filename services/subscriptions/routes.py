"""HTTP handlers: read the request, call a domain function, answer with a page or JSON."""

from __future__ import annotations

from typing import Any, TypeAlias

from arq.connections import ArqRedis
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import FromPath
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import openapi, public_fields, signup, unsubscribe
from services.subscriptions.abuse import SignupGuard, client_address
from services.subscriptions.consent import ConsentSource
from services.subscriptions.errors import UnsupportedContentType
from services.subscriptions.form_body import read_form
from services.subscriptions.health import readiness_problem
from services.subscriptions.i18n import N_
from services.subscriptions.pages import Renderer, request_language
from services.subscriptions.schemas import (
    MAX_BODY_BYTES,
    SubscribeAccepted,
    SubscribeBody,
    decode_json_body,
    form_to_body,
    split_slugs,
)
from services.subscriptions.widget import SignupGate, thank_you_location, with_site_defaults
from shared.settings import Settings
from shared.tokens import TokenSigner

# Link bodies are ignored ("List-Unsubscribe=One-Click" or a button), so keep them small.
MAX_LINK_BODY_BYTES = 4 * 1024
# Dependencies are injected by parameter name (see app.create_app).
Session: TypeAlias = NamedDependency[AsyncSession]
Jobs: TypeAlias = NamedDependency[ArqRedis]
Signer: TypeAlias = NamedDependency[TokenSigner]
Pages: TypeAlias = NamedDependency[Renderer]
Config: TypeAlias = NamedDependency[Settings]
Gate: TypeAlias = NamedDependency[SignupGate]
Guard: TypeAlias = NamedDependency[SignupGuard]
AnyRequest: TypeAlias = Request[Any, Any, Any]

ACCEPTED_MESSAGE = N_(
    "Thank you! Check your inbox: we have sent you an email with a link to confirm."
)


async def read_subscribe_body(request: AnyRequest) -> tuple[SubscribeBody, bool]:
    """The sign-up fields and whether they came as JSON (else as a form)."""
    media_type = request.content_type[0]
    if media_type == "application/json" or media_type.endswith("+json"):
        return decode_json_body(await request.body()), True
    if media_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
        return form_to_body(await read_form(request)), False
    raise UnsupportedContentType(media_type or "(none)")


def client_ip(request: AnyRequest) -> str | None:
    """The client's address: the peer, or X-Forwarded-For when BREVDUE_TRUSTED_PROXIES lists
    the peer."""
    if not request.client:
        return None
    guard: SignupGuard = request.app.state.guard
    forwarded = request.headers.getall("x-forwarded-for", [])
    return client_address(request.client.host, forwarded, guard.trusted)


@get("/subscribe", media_type=MediaType.HTML)
async def subscribe_form(request: AnyRequest, session: Session, renderer: Pages) -> Response[str]:
    """The sign-up form; ``?lists=a,b`` ticks lists in advance."""
    choices = await signup.public_list_choices(session)
    fields = await public_fields.load(session)
    values = {"lists": split_slugs(request.query_params.getall("lists", []))}
    lang = request_language(request)
    return renderer.subscribe_form(
        lang, path=request.url.path, choices=choices, values=values, fields=fields
    )


@post("/subscribe", request_max_body_size=MAX_BODY_BYTES, operation_class=openapi.SUBSCRIBE_BODY)
async def subscribe(
    request: AnyRequest,
    *,
    session: Session,
    jobs: Jobs,
    signer: Signer,
    renderer: Pages,
    settings: Config,
    gate: Gate,
    guard: Guard,
) -> Response[Any]:
    """Sign up: 303 to the thank-you page for forms, 202 for JSON, whatever the address."""
    body, is_json = await read_subscribe_body(request)
    site = await gate.admit(request, session, body, is_json=is_json)
    body = with_site_defaults(body, site, request.headers.get("accept-language"))
    source = ConsentSource(
        "json" if is_json else "form", site_id=site.id if site else None, ip=client_ip(request)
    )
    await signup.subscribe(
        session,
        body,
        jobs=jobs,
        signer=signer,
        renderer=renderer,
        settings=settings,
        source=source,
        guard=guard,
    )
    lang = str(body.language)  # validated by signup.subscribe
    if is_json:
        message = renderer.gettext(lang, ACCEPTED_MESSAGE)
        return Response(SubscribeAccepted(status="pending", message=message), status_code=202)
    return Redirect(thank_you_location(site, lang), status_code=303)


@get("/thanks", media_type=MediaType.HTML)
async def thanks(request: AnyRequest, renderer: Pages) -> Response[str]:
    """The page a form sign-up lands on."""
    return renderer.page("thanks.html", request_language(request), path=request.url.path)


@get("/confirm/{token:str}", media_type=MediaType.HTML)
async def confirm_form(
    request: AnyRequest,
    token: FromPath[str],
    session: Session,
    signer: Signer,
    renderer: Pages,
) -> Response[str]:
    """A page with one button that confirms; following the link changes nothing."""
    target = await signup.inspect_confirm(session, signer, token)
    lang = request_language(request, target.language)
    if not target.applies:
        return _link_gone(renderer, request, lang)
    names = [signup.list_name(row, lang) for row in target.lists]
    return renderer.page("confirm.html", lang, path=request.url.path, token=token, lists=names)


@post(
    "/confirm/{token:str}",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_LINK_BODY_BYTES,
    status_code=200,
)
async def confirm(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    signer: Signer,
    renderer: Pages,
    settings: Config,
    jobs: Jobs,
) -> Response[str]:
    """Confirm the link's pending lists; a second time shows the same page."""
    target = await signup.confirm(
        session,
        signer,
        token,
        ip=client_ip(request),
        record_ip=settings.record_consent_ip,
        jobs=jobs,
    )
    lang = request_language(request, target.language)
    if not target.applies:
        return _link_gone(renderer, request, lang)
    names = [signup.list_name(row, lang) for row in target.lists]
    return renderer.page("confirmed.html", lang, path=request.url.path, lists=names)


def _link_gone(renderer: Renderer, request: AnyRequest, lang: str) -> Response[str]:
    """410: the resident unsubscribed or was erased since the link was sent; say so, and how
    to sign up again, rather than claim a confirmation that changed nothing."""
    return renderer.page("confirm_gone.html", lang, path=request.url.path, status_code=410)


@get("/unsubscribe/{token:str}", media_type=MediaType.HTML)
async def unsubscribe_form(
    request: AnyRequest,
    token: FromPath[str],
    session: Session,
    signer: Signer,
    renderer: Pages,
) -> Response[str]:
    """A page with one button that unsubscribes; following the link changes nothing."""
    result = await unsubscribe.inspect_unsubscribe(session, signer, token)
    lang = request_language(request, result.language)
    return renderer.page("unsubscribe.html", lang, path=request.url.path, token=token)


@post(
    "/unsubscribe/{token:str}",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_LINK_BODY_BYTES,
    status_code=200,
    operation_class=openapi.ONE_CLICK_BODY,
)
async def unsubscribe_now(
    request: AnyRequest,
    token: FromPath[str],
    session: Session,
    signer: Signer,
    renderer: Pages,
) -> Response[str]:
    """Unsubscribe (button or RFC 8058 one-click): 200 with a page, no redirect, no cookie."""
    result = await unsubscribe.unsubscribe(session, signer, token)
    lang = request_language(request, result.language)
    return renderer.page("unsubscribed.html", lang, path=request.url.path)


@get("/health/live", media_type=MediaType.JSON)
async def health_live() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@get("/health/ready", media_type=MediaType.JSON)
async def health_ready(state: State) -> Response[dict[str, str]]:
    """The database and Redis answer; 503 with the reason otherwise."""
    problem = await readiness_problem(state.engine, state.jobs)
    if problem:
        return Response({"status": "unavailable", "reason": problem}, status_code=503)
    return Response({"status": "ok"})


ROUTES = [
    subscribe_form,
    subscribe,
    thanks,
    confirm_form,
    confirm,
    unsubscribe_form,
    unsubscribe_now,
    health_live,
    health_ready,
]
