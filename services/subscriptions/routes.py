"""HTTP handlers: read the request, call a domain function, answer with a page or JSON."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.params import FromPath
from litestar.response import Redirect

from services.subscriptions import openapi, public_fields, signup, unsubscribe
from services.subscriptions.admission import Admission
from services.subscriptions.consent import entry_point
from services.subscriptions.dependencies import Config, Jobs, Pages, Session, Signer
from services.subscriptions.health import readiness_problem
from services.subscriptions.http_input import AnyRequest, client_ip, read_subscribe_body
from services.subscriptions.i18n import N_, list_name
from services.subscriptions.outbox import Outbox
from services.subscriptions.pages import Renderer, request_language
from services.subscriptions.proof_of_work import form_solves_proof_of_work
from services.subscriptions.schemas import MAX_BODY_BYTES, SubscribeAccepted, split_slugs
from services.subscriptions.widget import thank_you_location

# Link bodies are ignored ("List-Unsubscribe=One-Click" or a button), so keep them small.
MAX_LINK_BODY_BYTES = 4 * 1024

ACCEPTED_MESSAGE = N_(
    "Thank you! Check your inbox: we have sent you an email with a link to confirm."
)


@get("/subscribe", media_type=MediaType.HTML)
async def subscribe_form(
    request: AnyRequest, session: Session, renderer: Pages, settings: Config
) -> Response[str]:
    """The sign-up form; ``?lists=a,b`` ticks lists in advance."""
    choices = await signup.public_list_choices(session)
    fields = await public_fields.load(session)
    values = {"lists": split_slugs(request.query_params.getall("lists", []))}
    lang = request_language(request)
    return renderer.subscribe_form(
        lang,
        path=request.url.path,
        choices=choices,
        values=values,
        fields=fields,
        proof_of_work=form_solves_proof_of_work(settings),
        age=settings.age_of_digital_consent,
    )


# The busiest routes (sign-up, one-click unsubscribe) take their parts from the app state and
# only the session as a dependency: Litestar resolves two or more dependencies of a handler in
# a task group, a task each, which cost 5-10% of such a request (bench/http profiles).


@post("/subscribe", request_max_body_size=MAX_BODY_BYTES, operation_class=openapi.SUBSCRIBE_BODY)
async def subscribe(request: AnyRequest, *, session: Session, state: State) -> Response[Any]:
    """Sign up: 303 to the thank-you page for forms, 202 for JSON, whatever the address."""
    outbox: Outbox = state.outbox
    admission: Admission = state.admission
    body, is_json = await read_subscribe_body(request)
    async with signup.refusals_for_the_form(session, body):
        entry = entry_point(is_json=is_json, via=body.via)
        admitted = await admission.admit(request, body, entry=entry, is_json=is_json)
        await signup.subscribe(
            session,
            admitted.body,
            source=admitted.source,
            outbox=outbox,
            guard=admission.guard,
            fields=admitted.fields,
            public_lists=state.public_lists,
        )
    lang = str(admitted.body.language)  # validated by signup.subscribe
    if is_json:
        message = outbox.renderer.gettext(lang, ACCEPTED_MESSAGE)
        return Response(SubscribeAccepted(status="pending", message=message), status_code=202)
    return Redirect(thank_you_location(admitted.site, lang), status_code=303)


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
        return link_gone(renderer, request, lang)
    names = [list_name(row, lang) for row in target.lists]
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
        return link_gone(renderer, request, lang)
    names = [list_name(row, lang) for row in target.lists]
    return renderer.page("confirmed.html", lang, path=request.url.path, lists=names)


def link_gone(renderer: Renderer, request: AnyRequest, lang: str) -> Response[str]:
    """410: the resident unsubscribed or was erased since the link was sent, or no longer waits
    for it (a guardian's or an age review's link); say so, and how to sign up again, rather than
    claim a confirmation that changed nothing."""
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
    return _unsubscribe_page(request, renderer, "unsubscribe.html", token, result)


@post(
    "/unsubscribe/{token:str}",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_LINK_BODY_BYTES,
    status_code=200,
    operation_class=openapi.ONE_CLICK_BODY,
)
async def unsubscribe_now(
    request: AnyRequest, token: FromPath[str], *, session: Session, state: State
) -> Response[str]:
    """Leave the mail's lists (button or RFC 8058 one-click): 200 with a page, no redirect,
    no cookie."""
    result = await unsubscribe.unsubscribe(session, state.signer, token, jobs=state.jobs)
    return _unsubscribe_page(request, state.renderer, "unsubscribed.html", token, result)


@post(
    "/unsubscribe/{token:str}/all",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_LINK_BODY_BYTES,
    status_code=200,
)
async def unsubscribe_everything(
    request: AnyRequest, token: FromPath[str], *, session: Session, state: State
) -> Response[str]:
    """Leave every list (the unsubscribe page's second button)."""
    result = await unsubscribe.unsubscribe(
        session, state.signer, token, jobs=state.jobs, everything=True
    )
    return _unsubscribe_page(request, state.renderer, "unsubscribed.html", token, result)


def _unsubscribe_page(
    request: AnyRequest,
    renderer: Renderer,
    template: str,
    token: str,
    result: unsubscribe.UnsubscribeResult,
) -> Response[str]:
    lang = request_language(request, result.language)
    return renderer.page(
        template,
        lang,
        path=request.url.path,
        # The one-click unsubscribe is the busiest page: rendered once per language and lists.
        slots={"token": token, "preferences_token": result.preferences_token},
        lists=tuple(list_name(row, lang) for row in result.lists),
    )


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
    unsubscribe_everything,
    health_live,
    health_ready,
]
