"""HTTP handlers of the preference center, the data export link and erasure.

No login and no cookies: the signed token in the URL is the capability. Changes happen only on
POST, and a POST whose Origin (or, without one, Referer) names another site is refused, so a
page elsewhere cannot submit these forms on a resident's behalf.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get, post
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import FromPath
from litestar.response import Redirect

from services.subscriptions import gdpr, municipality_choice, openapi, preference_form, preferences
from services.subscriptions.dependencies import Config, Guard, Jobs, Mail, Pages, Session, Signer
from services.subscriptions.errors import RateLimited, UnsupportedContentType
from services.subscriptions.form_body import read_form
from services.subscriptions.http_input import AnyRequest, client_ip
from services.subscriptions.origins import require_same_origin
from services.subscriptions.pages import Renderer, request_language
from services.subscriptions.preference_form import Preferences, PreferencesForm
from services.subscriptions.preferences import SaveOutcome
from shared.settings import Settings

MAX_FORM_BYTES: Final = 64 * 1024  # lists, attributes and custom fields
MAX_BUTTON_BYTES: Final = 4 * 1024  # the other forms are a bare button
EXPORT_FILENAME: Final = "kulturmetropol-data.json"
# The token in these URLs may travel in Referer only to this site: browsers then send a real
# Origin on our own form posts (under "no-referrer" they would send "Origin: null").
REFERRER_POLICY: Final = "same-origin"


def _page(
    renderer: Renderer, request: AnyRequest, template: str, lang: str, **context: Any
) -> Response[str]:
    response = renderer.page(template, lang, path=request.url.path, **context)
    response.headers["Referrer-Policy"] = REFERRER_POLICY
    return response


async def _read_form(request: AnyRequest) -> PreferencesForm:
    media_type = request.content_type[0]
    if media_type not in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
        raise UnsupportedContentType(media_type or "(none)")
    return preference_form.read_form(await read_form(request))


def _preferences_page(
    renderer: Renderer,
    request: AnyRequest,
    settings: Settings,
    prefs: Preferences,
    *,
    form: PreferencesForm | None = None,
    outcome: SaveOutcome | None = None,
    status_code: int = 200,
) -> Response[str]:
    profile = prefs.profile
    lang = request_language(request, profile.language)
    values = {
        "name": profile.name or "",
        "language": profile.language,
        "municipality": profile.municipality or "",
    }
    if form is not None:  # a refused save: show what was sent
        values = {
            "name": form.name or "",
            "language": form.language or "",
            "municipality": form.municipality or "",
        }
    custom = preference_form.custom_field_options(prefs, lang, form.custom if form else None)
    problems = outcome.problems if outcome else {}
    return _page(
        renderer,
        request,
        "preferences.html",
        lang,
        status_code=status_code,
        token=prefs.token,
        lists=prefs.list_options(lang, form.lists if form else None),
        values=values,
        municipalities=municipality_choice.groups(renderer, lang),
        custom_fields=custom,
        errors=preference_form.problem_messages(renderer, lang, problems),
        anchors={field["name"]: field["id"] for field in custom},
        saved=request.query_params.get("saved") == "1",
        confirmation_sent=request.query_params.get("sent") == "1",
        export_hours=max(1, settings.export_token_max_age // 3600),
    )


def _rate_limited(
    renderer: Renderer, request: AnyRequest, token: str, exc: RateLimited
) -> Response[str]:
    response = _page(
        renderer,
        request,
        "rate_limited.html",
        request_language(request),
        status_code=429,
        minutes=max(1, -(-exc.retry_after // 60)),
        back_url=f"/preferences/{token}",
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _no_data(renderer: Renderer, request: AnyRequest) -> Response[str]:
    return _page(renderer, request, "no_data.html", request_language(request), status_code=404)


@get("/preferences/{token:str}", media_type=MediaType.HTML)
async def preferences_form(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    signer: Signer,
    renderer: Pages,
    settings: Config,
) -> Response[str]:
    """The preference center; following the link changes nothing."""
    prefs = await preferences.load(session, signer, token)
    if prefs is None:
        return _no_data(renderer, request)
    return _preferences_page(renderer, request, settings, prefs)


@post(
    "/preferences/{token:str}",
    request_max_body_size=MAX_FORM_BYTES,
    status_code=303,
    operation_class=openapi.PREFERENCES_BODY,
)
async def preferences_save(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    renderer: Pages,
    settings: Config,
    outbox: Mail,
    guard: Guard,
) -> Response[Any]:
    """Save the form: 303 back to the page, the page with reasons (422), or 429 when the
    address has had its confirmation mails for today."""
    require_same_origin(request, settings)
    form = await _read_form(request)
    try:
        prefs, outcome = await preferences.save(
            session, token, form, outbox=outbox, ip=client_ip(request), guard=guard
        )
    except RateLimited as exc:
        return _rate_limited(renderer, request, token, exc)
    if prefs is None:
        return _no_data(renderer, request)
    if outcome.problems:
        return _preferences_page(
            renderer, request, settings, prefs, form=form, outcome=outcome, status_code=422
        )
    lang = form.language or prefs.profile.language
    sent = "&sent=1" if outcome.confirmation_sent else ""
    return Redirect(f"/preferences/{token}?lang={lang}&saved=1{sent}", status_code=303)


@post(
    "/preferences/{token:str}/unsubscribe",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_BUTTON_BYTES,
    status_code=200,
)
async def preferences_unsubscribe(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    signer: Signer,
    renderer: Pages,
    settings: Config,
    jobs: Jobs,
) -> Response[str]:
    """Unsubscribe from every list at once."""
    require_same_origin(request, settings)
    prefs = await preferences.unsubscribe_everything(session, signer, token, jobs)
    if prefs is None:
        return _no_data(renderer, request)
    lang = request_language(request, prefs.profile.language)
    return _page(renderer, request, "preferences_unsubscribed.html", lang, token=token)


@post(
    "/preferences/{token:str}/export",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_BUTTON_BYTES,
    status_code=200,
)
async def preferences_export(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    jobs: Jobs,
    signer: Signer,
    renderer: Pages,
    settings: Config,
    guard: Guard,
) -> Response[str]:
    """Mail the resident an expiring link to a copy of their data (429 past the daily
    allowance of such mails)."""
    require_same_origin(request, settings)
    prefs = await preferences.load(session, signer, token)
    if prefs is None:
        return _no_data(renderer, request)
    try:
        await gdpr.request_export(
            session,
            prefs.profile,
            jobs=jobs,
            signer=signer,
            renderer=renderer,
            settings=settings,
            guard=guard,
        )
    except RateLimited as exc:
        return _rate_limited(renderer, request, token, exc)
    lang = request_language(request, prefs.profile.language)
    hours = max(1, settings.export_token_max_age // 3600)
    return _page(renderer, request, "export_requested.html", lang, token=token, export_hours=hours)


@get("/preferences/{token:str}/erase", media_type=MediaType.HTML)
async def erase_form(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    signer: Signer,
    renderer: Pages,
) -> Response[str]:
    """Ask for confirmation before erasing; following the link changes nothing."""
    prefs = await preferences.load(session, signer, token)
    if prefs is None:
        return _no_data(renderer, request)
    lang = request_language(request, prefs.profile.language)
    return _page(renderer, request, "erase.html", lang, token=token)


@post(
    "/preferences/{token:str}/erase",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_BUTTON_BYTES,
    status_code=200,
)
async def erase_now(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    jobs: Jobs,
    signer: Signer,
    renderer: Pages,
    settings: Config,
) -> Response[str]:
    """Erase the resident's data and say goodbye (by page and by mail)."""
    require_same_origin(request, settings)
    language = await gdpr.erase_with_token(session, signer, token, jobs=jobs, renderer=renderer)
    if language is None:
        return _no_data(renderer, request)
    return _page(renderer, request, "erased.html", request_language(request, language))


@get("/export/{token:str}", media_type=MediaType.HTML)
async def export_form(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    signer: Signer,
    renderer: Pages,
) -> Response[str]:
    """A page with a download button; link scanners following the link download nothing."""
    link = await gdpr.inspect_export(session, signer, token)
    if not link.found:
        return _no_data(renderer, request)
    lang = request_language(request, link.language)
    return _page(renderer, request, "export.html", lang, token=token)


@post("/export/{token:str}", request_max_body_size=MAX_BUTTON_BYTES, status_code=200)
async def export_download(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    signer: Signer,
    renderer: Pages,
    settings: Config,
) -> Response[Any]:
    """The data as a JSON file download."""
    require_same_origin(request, settings)
    data = await gdpr.download_export(session, signer, token, renderer)
    if data is None:
        return _no_data(renderer, request)
    return Response(
        data,
        media_type=MediaType.JSON,
        headers={
            "Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


PREFERENCE_ROUTES = [
    preferences_form,
    preferences_save,
    preferences_unsubscribe,
    preferences_export,
    erase_form,
    erase_now,
    export_form,
    export_download,
]
