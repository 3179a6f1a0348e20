"""The public subscriptions service: app factory, dependencies and the one error mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

import structlog
from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions.abuse import SignupGuard
from services.subscriptions.admission import Admission
from services.subscriptions.archive import CopyRenderer
from services.subscriptions.archive_routes import ARCHIVE_ROUTES
from services.subscriptions.cors import add_cors_headers
from services.subscriptions.errors import (
    CrossOriginRefused,
    InvalidInput,
    InvalidLink,
    RateLimited,
    UnknownSite,
    UnknownTrackedLink,
    UnsupportedContentType,
)
from services.subscriptions.i18n import N_, load_translations, negotiate_language
from services.subscriptions.openapi import openapi_config
from services.subscriptions.outbox import Outbox
from services.subscriptions.pages import Renderer, request_language, wants_json
from services.subscriptions.preference_routes import PREFERENCE_ROUTES
from services.subscriptions.proof_of_work import (
    ProofOfWork,
    derive_hmac_key,
    form_solves_proof_of_work,
)
from services.subscriptions.public_fields import load as load_public_fields
from services.subscriptions.public_lists import read_public_lists
from services.subscriptions.read_every import ReadEvery
from services.subscriptions.request_url import refuse_unreadable_url
from services.subscriptions.routes import ROUTES
from services.subscriptions.schemas import ErrorsResponse
from services.subscriptions.sites import DEFAULT_TTL as SITES_TTL
from services.subscriptions.sites import SiteDirectory
from services.subscriptions.tracking import TrackingDirectory
from services.subscriptions.tracking_routes import TRACKING_ROUTES
from services.subscriptions.widget_routes import PREFLIGHT_ROUTES, WIDGET_ROUTES
from services.subscriptions.youth_routes import YOUTH_ROUTES
from shared.db import create_sessionmaker, create_web_engine, database_unreachable
from shared.errors import QueueUnavailable
from shared.jobs import create_job_pool
from shared.logging import configure_logging
from shared.process import from_env
from shared.queues import TRANSACTIONAL_QUEUE
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner

log = structlog.get_logger(__name__)

TOO_MANY_ATTEMPTS = N_("Too many attempts. Please wait a while and try again.")
_STATUS_PHRASES = frozenset(status.phrase for status in HTTPStatus)
# Litestar's detail when the client went away before sending the whole body.
CLIENT_DISCONNECTED = "client disconnected prematurely"


@asynccontextmanager
async def _resources(app: Litestar) -> AsyncIterator[None]:
    """Open the database engine and the job pool for the life of the app."""
    settings: Settings = app.state.settings
    configure_logging(settings)
    engine = create_web_engine(settings.database_url)
    jobs = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.jobs = jobs
    app.state.signer = TokenSigner(
        settings.secret_keys,
        {
            Purpose.CONFIRM: settings.confirm_token_max_age,
            Purpose.GUARDIAN: settings.confirm_token_max_age,
            Purpose.EXPORT: settings.export_token_max_age,
        },
    )
    app.state.sites = SiteDirectory(app.state.sessionmaker)
    app.state.tracking = TrackingDirectory(app.state.sessionmaker)
    app.state.copies = CopyRenderer(settings.subscriptions_public_url)
    app.state.proof_of_work = ProofOfWork(
        derive_hmac_key(settings), jobs, max_number=settings.altcha_max_number
    )
    app.state.guard = SignupGuard(jobs, settings)
    app.state.admission = Admission(
        app.state.sites,
        app.state.proof_of_work,
        app.state.guard,
        settings,
        ReadEvery(app.state.sessionmaker, load_public_fields, ttl=SITES_TTL),
    )
    app.state.outbox = Outbox(jobs, app.state.signer, app.state.renderer, settings)
    app.state.public_lists = ReadEvery(app.state.sessionmaker, read_public_lists, ttl=SITES_TTL)
    try:
        yield
    finally:
        await jobs.aclose()
        await engine.dispose()


async def _provide_session(state: State) -> AsyncIterator[AsyncSession]:
    session: AsyncSession = state.sessionmaker()
    try:
        yield session
    finally:
        # Closing costs a greenlet switch, and a session that holds nothing has nothing to
        # close: its transactions were ended by their ``session.begin()`` blocks (which return
        # the connection) or it was never used, as on the busiest routes' driver paths.
        if session.in_transaction() or len(session.identity_map):
            await asyncio.shield(session.close())


def _from_state(name: str) -> Provide:
    def provide(state: State) -> Any:
        return state[name]

    return Provide(provide, sync_to_thread=False)


# --- the one place where errors become HTTP answers --------------------------------------


def _path(request: Request[Any, Any, Any]) -> str:
    # Not request.url: building it parses the Host header, and a malformed one (the reason
    # for some of these answers) would fail again here.
    return str(request.scope.get("path") or "/")


def _renderer(request: Request[Any, Any, Any]) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


def _invalid_input(request: Request[Any, Any, Any], exc: InvalidInput) -> Response[Any]:
    lang = negotiate_language(
        exc.language, request.headers.get("accept-language"), request.query_params.get("lang")
    )
    renderer = _renderer(request)
    if wants_json(request):
        errors = renderer.problem_messages(lang, exc.problems)
        return Response(ErrorsResponse(errors=errors), status_code=422)
    return renderer.subscribe_form(
        lang,
        path=_path(request),
        choices=exc.choices,
        values=exc.values,
        problems=exc.problems,
        status_code=422,
        fields=exc.fields,
        proof_of_work=form_solves_proof_of_work(
            request.app.state.settings, str(exc.values.get("site") or "")
        ),
        age=request.app.state.settings.age_of_digital_consent,
    )


def _invalid_link(request: Request[Any, Any, Any], exc: InvalidLink) -> Response[Any]:
    lang = request_language(request)
    return _renderer(request).page(
        "link_error.html",
        lang,
        path=_path(request),
        status_code=400,
        purpose=exc.purpose.value,
        reason=exc.reason,
    )


def _status_page(
    request: Request[Any, Any, Any], status_code: int, detail: str | None = None
) -> Response[Any]:
    if wants_json(request):
        body: dict[str, Any] = {"error": status_code}
        if detail and detail not in _STATUS_PHRASES:  # a reason beyond the code's name
            body["detail"] = detail
        return Response(body, status_code=status_code)
    return _renderer(request).page(
        "error.html",
        request_language(request),
        path=_path(request),
        status_code=status_code,
        status=status_code,
    )


def _rate_limited(request: Request[Any, Any, Any], exc: RateLimited) -> Response[Any]:
    """429 with Retry-After; the same answer for a busy client and a busy address."""
    lang = request_language(request)
    renderer = _renderer(request)
    headers = {"Retry-After": str(exc.retry_after)}
    if wants_json(request):
        message = renderer.gettext(lang, TOO_MANY_ATTEMPTS)
        body = {"errors": {"body": message}, "retry_after": exc.retry_after}
        return Response(body, status_code=429, headers=headers)
    response = renderer.page(
        "rate_limited.html",
        lang,
        path=_path(request),
        status_code=429,
        minutes=max(1, -(-exc.retry_after // 60)),
    )
    response.headers.update(headers)
    return response


def _unknown_site(request: Request[Any, Any, Any], exc: UnknownSite) -> Response[Any]:
    return _status_page(request, 404)


def _unknown_tracked_link(
    request: Request[Any, Any, Any], exc: UnknownTrackedLink
) -> Response[Any]:
    return _status_page(request, 404)


def _cross_origin_refused(
    request: Request[Any, Any, Any], exc: CrossOriginRefused
) -> Response[Any]:
    return _status_page(request, 403, "Requests from this origin are not accepted here.")


def _unsupported_content_type(
    request: Request[Any, Any, Any], exc: UnsupportedContentType
) -> Response[Any]:
    return _status_page(request, 415, "Send a form (urlencoded or multipart) or JSON.")


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.detail == CLIENT_DISCONNECTED:
        # The framework calls a body cut short a server error; it is the client's doing, and
        # nobody is left to read the answer. Not worth an error with a traceback in the log.
        log.info("request.client_disconnected", method=request.method, path=_path(request))
        return Response({"error": 400, "detail": exc.detail}, status_code=400)
    if exc.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        return _unexpected(request, exc)
    response = _status_page(request, exc.status_code, exc.detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _queue_unavailable(request: Request[Any, Any, Any], exc: QueueUnavailable) -> Response[Any]:
    """Redis is away for a moment: 503, and the resident may try again shortly."""
    log.warning("request.queue_unavailable", path=request.url.path, job=exc.job)
    response = _status_page(request, HTTP_503_SERVICE_UNAVAILABLE)
    response.headers["Retry-After"] = "5"
    return response


def _backend_down(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Redis or the database cannot be reached (a restart, a failover): 503 with Retry-After,
    as for a full queue, never a 500. Nothing was half-done: the sign-up's transaction did not
    commit, so trying again is safe."""
    log.warning("request.backend_unavailable", path=request.url.path, error=type(exc).__name__)
    response = _status_page(request, HTTP_503_SERVICE_UNAVAILABLE)
    response.headers["Retry-After"] = "5"
    return response


def _database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The database went away (503) or a statement was wrong (a bug: 500)."""
    if database_unreachable(exc):
        return _backend_down(request, exc)
    return _unexpected(request, exc)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A real bug: log it with its traceback, show a plain apology, never the details."""
    log.error(
        "request.failed",
        method=request.method,
        path=_path(request),
        error=type(exc).__name__,
        exc_info=exc,
    )
    try:
        return _status_page(request, HTTP_500_INTERNAL_SERVER_ERROR)
    except Exception:  # the page itself failed: answer without templates
        return Response("Internal Server Error", status_code=500, media_type="text/plain")


# --- factories -----------------------------------------------------------------------------


def create_app(settings: Settings) -> Litestar:
    """Build the subscriptions app; resources open when it starts, not here."""
    renderer = Renderer(load_translations())
    return Litestar(
        route_handlers=[
            *PREFLIGHT_ROUTES,
            *ROUTES,
            *WIDGET_ROUTES,
            *PREFERENCE_ROUTES,
            *TRACKING_ROUTES,
            *ARCHIVE_ROUTES,
            *YOUTH_ROUTES,
        ],
        dependencies={
            "session": Provide(_provide_session),
            "jobs": _from_state("jobs"),
            "signer": _from_state("signer"),
            "renderer": _from_state("renderer"),
            "settings": _from_state("settings"),
            "sites": _from_state("sites"),
            "proof_of_work": _from_state("proof_of_work"),
            "guard": _from_state("guard"),
            "admission": _from_state("admission"),
            "outbox": _from_state("outbox"),
            "public_lists": _from_state("public_lists"),
        },
        exception_handlers={
            InvalidInput: _invalid_input,
            InvalidLink: _invalid_link,
            UnsupportedContentType: _unsupported_content_type,
            RateLimited: _rate_limited,
            UnknownSite: _unknown_site,
            UnknownTrackedLink: _unknown_tracked_link,
            CrossOriginRefused: _cross_origin_refused,
            HTTPException: _http_exception,
            QueueUnavailable: _queue_unavailable,
            # Lost or refused connections to Redis or the database: the client may retry.
            RedisConnectionError: _backend_down,
            RedisTimeoutError: _backend_down,
            DBAPIError: _database_error,
            OSError: _backend_down,
            Exception: _unexpected,
        },
        lifespan=[_resources],
        middleware=[refuse_unreadable_url],
        before_send=[add_cors_headers],
        state=State({"settings": settings, "renderer": renderer}),
        logging_config=None,
        openapi_config=openapi_config(),
    )


# For ``uvicorn --factory``: settings from BREVDUE_* variables, or exit 2 with one line.
create_app_from_env = from_env(create_app)
