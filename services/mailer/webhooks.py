"""The bounce webhooks: ``POST /webhooks/{ses,postmark,sendgrid,mailgun}`` and health checks.

Served by the bounces process (bounces_service.py) next to the SMTP bounce listener. A provider
without credentials answers 404; a request that does not authenticate 401 (Postmark) or 403;
a body that is not the provider's JSON 400; a store that is down 503, so the provider retries.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import State
from sqlalchemy import text

from services.mailer.config import WebhookSettings
from services.mailer.errors import WebhookDisabled, WebhookError, WebhookUnauthorized
from services.mailer.inbound import STORE_ERRORS, InboundRuntime, record_reported
from services.mailer.providers import (
    MailgunReader,
    PostmarkReader,
    ProviderEvent,
    SendGridReader,
    SesReader,
    WebhookReader,
)
from services.mailer.sns import Fetch, fetch_https

log = structlog.get_logger(__name__)

MAX_BODY = 1024 * 1024  # SendGrid batches are the largest: well under this


def build_readers(
    hooks: WebhookSettings, runtime: InboundRuntime, fetch: Fetch
) -> dict[str, WebhookReader]:
    """A reader for each provider that has credentials configured."""
    readers: dict[str, WebhookReader] = {}
    if hooks.ses_topics:
        readers["ses"] = SesReader(frozenset(hooks.ses_topics), fetch)
    if hooks.postmark_user and hooks.postmark_password:
        readers["postmark"] = PostmarkReader(hooks.postmark_user, hooks.postmark_password.reveal())
    if hooks.sendgrid_public_key:
        readers["sendgrid"] = SendGridReader.from_setting(hooks.sendgrid_public_key, hooks.max_age)
    if hooks.mailgun_signing_key:
        key = hooks.mailgun_signing_key.reveal().encode()
        readers["mailgun"] = MailgunReader(key, runtime.redis, hooks.max_age)
    return readers


async def receive(
    runtime: InboundRuntime,
    readers: dict[str, WebhookReader],
    provider: str,
    headers: dict[str, str],
    body: bytes,
) -> int:
    """Authenticate and record one webhook request; return how many deliveries it matched."""
    reader = readers.get(provider)
    if reader is None:
        raise WebhookDisabled(provider, "not configured")
    report = await reader.read(headers, body)
    try:
        return await record_events(runtime, report.events)
    except STORE_ERRORS:
        if report.undo is not None:
            await report.undo()  # let the provider's retry through
        raise


async def record_events(runtime: InboundRuntime, events: list[ProviderEvent]) -> int:
    """Record each event; return how many matched a delivery."""
    found = 0
    for event in events:
        found += await record_reported(runtime, event)
    return found


@post("/webhooks/{provider:str}", status_code=200)
async def receive_webhook(
    provider: str, request: Request[Any, Any, Any], state: State
) -> dict[str, int]:
    """A provider's bounce or complaint notification."""
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    return {"matched": await receive(state.runtime, state.readers, provider, headers, body)}


@get("/health/live", media_type=MediaType.TEXT)
async def live() -> str:
    """The process is up."""
    return "ok"


@get("/health/ready", media_type=MediaType.TEXT)
async def ready(state: State) -> Response[str]:
    """The database and Redis answer."""
    runtime: InboundRuntime = state.runtime
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        await runtime.redis.ping()
    except STORE_ERRORS as exc:
        return Response(f"not ready: {type(exc).__name__}", status_code=503)
    return Response("ok")


def _webhook_error(request: Request[Any, Any, Any], exc: WebhookError) -> Response[dict[str, str]]:
    # The reason is ours (no request content in it); it helps whoever sets the webhook up.
    log.info("webhook.refused", provider=exc.provider, reason=exc.reason, status=exc.status)
    headers = (
        {"WWW-Authenticate": 'Basic realm="webhooks"'}
        if isinstance(exc, WebhookUnauthorized)
        else None
    )
    return Response({"error": exc.reason}, status_code=exc.status, headers=headers)


def _store_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    log.warning("webhook.store_failed", error=type(exc).__name__)
    return Response({"error": "try again later"}, status_code=503)


def create_app(
    runtime: InboundRuntime, hooks: WebhookSettings, fetch: Fetch | None = None
) -> Litestar:
    """The webhook app; ``fetch`` downloads SNS certificates (injectable for tests)."""
    readers = build_readers(hooks, runtime, fetch or fetch_https)
    return Litestar(
        [receive_webhook, live, ready],
        state=State({"runtime": runtime, "readers": readers}),
        exception_handlers={
            WebhookError: _webhook_error,
            **{error: _store_error for error in STORE_ERRORS},
        },
        request_max_body_size=MAX_BODY,
        openapi_config=None,
    )
