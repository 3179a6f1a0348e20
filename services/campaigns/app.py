"""The campaigns service (staff API): application factory, lifespan and the one place where
errors become HTTP responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from secrets import token_hex
from typing import Any, Final

import structlog
from arq.connections import ArqRedis
from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.engagement import EngagementReader
from services.campaigns.errors import (
    CampaignsError,
    Conflict,
    InvalidInput,
    MalformedRequest,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unavailable,
)
from services.campaigns.feeds import FeedPoller
from services.campaigns.mailer_events import CampaignEventReader
from services.campaigns.pages import Renderer
from services.campaigns.render_pool import RenderPool
from services.campaigns.routes import BEARER_SCHEME, api_router, health_handlers
from services.campaigns.routes.app_admin_pages import AdminPages
from services.campaigns.routes.app_audience_pages import AudiencePages
from services.campaigns.routes.app_audit_pages import AuditPages
from services.campaigns.routes.app_campaign_pages import CampaignPages
from services.campaigns.routes.app_digest_pages import DigestPages
from services.campaigns.routes.app_feed_pages import FeedPages
from services.campaigns.routes.app_field_pages import FieldPages
from services.campaigns.routes.app_import_pages import ImportPages
from services.campaigns.routes.app_organisation_pages import OrganisationPages
from services.campaigns.routes.app_overview_pages import OverviewPages
from services.campaigns.routes.app_pages import StaffAppController
from services.campaigns.routes.app_password_links import PasswordLinkPages
from services.campaigns.routes.app_reach_pages import ReachPages
from services.campaigns.routes.app_segment_pages import SegmentPages
from services.campaigns.routes.app_sending_pages import SendingPages
from services.campaigns.routes.app_site_pages import SitePages
from services.campaigns.routes.app_webhook_pages import WebhookPages
from services.campaigns.scheduling import Scheduler
from services.campaigns.webhook_dispatch import Dispatcher
from services.campaigns.webhook_events import ResidentEventReader
from shared.db import create_engine, create_sessionmaker, database_unreachable
from shared.errors import QueueUnavailable
from shared.jobs import create_job_pool
from shared.logging import configure_logging
from shared.process import from_env
from shared.queues import BULK_QUEUE
from shared.settings import Settings

log = structlog.get_logger(__name__)

# Campaign templates are capped at 256k characters; leave room for UTF-8 and JSON escaping.
MAX_BODY_BYTES: Final = 2 * 1024 * 1024

_STATUS_OF: Final[tuple[tuple[type[CampaignsError], int], ...]] = (
    (MalformedRequest, 400),
    (InvalidInput, 422),
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooManyRequests, 429),
    (Unavailable, 503),
)


def create_app(settings: Settings) -> Litestar:
    """The staff API, wired to ``settings``; connections open in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        configure_logging(settings)
        engine = create_engine(settings.database_url)
        renderer = RenderPool()
        try:
            jobs = await create_job_pool(settings.redis_url, BULK_QUEUE)
            sessionmaker = create_sessionmaker(engine)
            # Its own connection: the reader's blocking reads must not hold one of the pool's.
            events = CampaignEventReader(Redis.from_url(settings.redis_url), sessionmaker)
            events.start()
            engagement = EngagementReader(Redis.from_url(settings.redis_url), sessionmaker)
            engagement.start()
            scheduler = Scheduler(sessionmaker, jobs, settings.schedule_poll_interval)
            scheduler.start()
            feeds = FeedPoller(sessionmaker, settings)
            feeds.start()
            resident_events = ResidentEventReader(Redis.from_url(settings.redis_url), sessionmaker)
            resident_events.start()
            dispatcher = Dispatcher(sessionmaker, settings)
            dispatcher.start()
            try:
                app.state.settings = settings
                app.state.engine = engine
                app.state.sessionmaker = sessionmaker
                app.state.jobs = jobs
                app.state.renderer = renderer
                app.state.pages = pages
                yield
            finally:
                await scheduler.stop()
                await feeds.stop()
                await dispatcher.stop()
                await resident_events.stop()
                await resident_events.redis.aclose()
                await events.stop()
                await events.redis.aclose()
                await engagement.stop()
                await engagement.redis.aclose()
                await jobs.aclose()
        finally:
            renderer.close()
            await engine.dispose()

    pages = Renderer()
    return Litestar(
        route_handlers=[
            api_router(),
            StaffAppController,
            PasswordLinkPages,
            AdminPages,
            SendingPages,
            CampaignPages,
            AudiencePages,
            OverviewPages,
            SitePages,
            FeedPages,
            DigestPages,
            ReachPages,
            FieldPages,
            SegmentPages,
            ImportPages,
            AuditPages,
            OrganisationPages,
            WebhookPages,
            create_static_files_router(
                path="/app/static",
                directories=[STATIC_DIR],
                include_in_schema=False,
                # Vendored files change name with their version, so they may be cached a day.
                cache_control=CacheControlHeader(max_age=86400),
            ),
            *health_handlers,
        ],
        csrf_config=_csrf_config(settings),
        lifespan=[lifespan],
        dependencies={
            "db": Provide(_provide_db),
            "jobs": Provide(_provide_jobs, sync_to_thread=False),
            "renderer": Provide(_provide_renderer, sync_to_thread=False),
            "settings": Provide(_provide_settings, sync_to_thread=False),
        },
        exception_handlers={
            CampaignsError: _campaigns_error,
            QueueUnavailable: _queue_unavailable,
            ValidationException: _validation_error,
            HTTPException: _http_error,
            # Lost or refused connections to the database: the client may retry later.
            OperationalError: _backend_down,
            InterfaceError: _backend_down,
            DBAPIError: _database_error,
            OSError: _backend_down,
            RedisConnectionError: _backend_down,
            RedisTimeoutError: _backend_down,
            Exception: _unexpected_error,
        },
        openapi_config=OpenAPIConfig(
            title="Brevdue campaigns API",
            version="0.1.0",
            description="Staff API of Brevdue: lists, member sites, custom fields, campaigns.",
            components=Components(
                security_schemes={
                    BEARER_SCHEME: SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="An API token from `brevdue token create` (bdv_…).",
                    )
                }
            ),
        ),
        request_max_body_size=MAX_BODY_BYTES,
        # structlog (configured in the lifespan) owns logging; Litestar's default would add
        # its own handlers and print tracebacks for expected 4xx errors.
        logging_config=None,
    )


def _csrf_config(settings: Settings) -> CSRFConfig:
    # The bearer-token API carries no cookies a browser would send on its own, so it needs
    # no CSRF token; every form of the staff app does.
    return CSRFConfig(
        secret=settings.secret_keys[-1].reveal() if settings.secret_keys else token_hex(32),
        cookie_name="brevdue_csrf",
        cookie_secure=settings.campaigns_public_url.startswith("https://"),
        cookie_samesite="lax",
        exclude=["^/api/", "^/health/"],
    )


STATIC_DIR: Final = Path(__file__).parent / "static"

# For ``uvicorn --factory``: settings from BREVDUE_* variables, or exit 2 with one line.
create_app_from_env = from_env(create_app)


async def _provide_db(state: State) -> AsyncIterator[AsyncSession]:
    async with state.sessionmaker() as session:
        yield session


def _provide_jobs(state: State) -> ArqRedis:
    jobs: ArqRedis = state.jobs
    return jobs


def _provide_renderer(state: State) -> RenderPool:
    renderer: RenderPool = state.renderer
    return renderer


def _provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def _campaigns_error(_: Request[Any, Any, Any], exc: CampaignsError) -> Response[Any]:
    status = next((code for kind, code in _STATUS_OF if isinstance(exc, kind)), 400)
    body: dict[str, Any] = {"error": exc.message}
    if exc.errors:
        body["errors"] = exc.errors
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="brevdue"'
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(body, status_code=status, headers=headers)


def _queue_unavailable(_: Request[Any, Any, Any], exc: QueueUnavailable) -> Response[Any]:
    return Response({"error": f"{exc.reason}; try again shortly"}, status_code=503)


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    # Litestar's own parameter checks (query and path values): same shape as ours.
    errors: dict[str, str] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors[str(item.get("key") or "request")] = str(item.get("message", "is not valid"))
    return Response(
        {"error": "the request is not valid", "errors": errors or {"request": str(exc.detail)}},
        status_code=400,
    )


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code >= 500:
        # The framework's own faults (configuration, say): logged, and not shown to the client.
        return _unexpected_error(request, exc)
    return Response({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers or None)


def _backend_down(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("request.backend_unavailable", path=request.url.path, error=repr(exc)[:300])
    return Response(
        {"error": "the database or Redis cannot be reached; try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def _database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # asyncpg's shutdown and lost-connection errors arrive as a bare DBAPIError.
    if database_unreachable(exc):
        return _backend_down(request, exc)
    return _unexpected_error(request, exc)


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("request.failed", method=request.method, path=request.url.path, exc_info=exc)
    return Response({"error": "internal server error"}, status_code=500)
