"""The bounces process: the SMTP bounce listener and the providers' webhooks, side by side.

Run it with ``python -m services.mailer.bounces_service``. It listens for DSNs and complaints
on ``BREVDUE_MAILER_BOUNCE_HOST:BOUNCE_PORT`` (SMTP) and serves the webhooks on
``BREVDUE_MAILER_WEBHOOK_HOST:WEBHOOK_PORT`` (HTTP); at least one port must be set. It sends
nothing and may run as several replicas behind a load balancer and the bounce domain's MX.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
import uvicorn

from services.mailer.config import MailerOptions, WebhookSettings
from services.mailer.inbound import InboundRuntime, start_listener
from services.mailer.providers import SendGridReader
from services.mailer.sns import Fetch
from services.mailer.webhooks import create_app
from shared.errors import SettingsError
from shared.process import run_process
from shared.settings import Settings

log = structlog.get_logger(__name__)


async def serve(
    settings: Settings,
    options: MailerOptions,
    hooks: WebhookSettings,
    *,
    stop: asyncio.Event,
    fetch: Fetch | None = None,
) -> None:
    """Listen for bounces (SMTP) and webhooks (HTTP) until ``stop`` is set."""
    runtime = await InboundRuntime.open(settings)
    server: uvicorn.Server | None = None
    serving: asyncio.Task[None] | None = None
    try:
        if options.bounce_port:
            await start_listener(runtime, options.bounce_host, options.bounce_port)
            log.info("bounces.smtp_listening", host=options.bounce_host, port=options.bounce_port)
        if hooks.port:
            config = uvicorn.Config(
                create_app(runtime, hooks, fetch),
                host=hooks.host,
                port=hooks.port,
                log_level="warning",
                proxy_headers=False,
                lifespan="on",
            )
            server = uvicorn.Server(config)
            # uvicorn stops itself on SIGTERM/SIGINT and then re-raises the signal, which sets
            # ``stop`` through main's handlers.
            serving = asyncio.create_task(server.serve())
            log.info("bounces.webhooks_listening", host=hooks.host, port=hooks.port)
        stopping = asyncio.ensure_future(stop.wait())
        waiting: list[asyncio.Future[Any]] = [stopping] if serving is None else [stopping, serving]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if serving is not None and serving.done():
            serving.result()  # the HTTP server ended on its own (a port in use): surface it
    finally:
        if server is not None and serving is not None:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await serving
        await runtime.close()


def load_options(
    environ: Mapping[str, str] | None = None,
) -> tuple[MailerOptions, WebhookSettings]:
    """The process's ports and credentials; SettingsError when unusable or no port is set."""
    options = MailerOptions.from_env(environ)
    hooks = WebhookSettings.from_env(environ)
    if not options.bounce_port and not hooks.port:
        raise SettingsError(
            "MAILER_BOUNCE_PORT", "or MAILER_WEBHOOK_PORT must be set for the bounces process"
        )
    if hooks.sendgrid_public_key:  # a bad key fails at start, not at the first request
        SendGridReader.from_setting(hooks.sendgrid_public_key, hooks.max_age)
    return options, hooks


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m services.mailer.bounces_service``: run until SIGTERM or SIGINT."""
    run_process("bounces", argv, _serve, options=load_options, description=main.__doc__)


async def _serve(
    settings: Settings,
    options: tuple[MailerOptions, WebhookSettings],
    stop: asyncio.Event,
    _burst: bool,
) -> None:
    await serve(settings, *options, stop=stop)


if __name__ == "__main__":
    main()
