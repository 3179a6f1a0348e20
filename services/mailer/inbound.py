"""Bounces and complaints coming back: the SMTP bounce listener and the one place they land.

Every source — DSNs and ARF reports mailed to a VERP return path (this module's listener) and
the providers' webhooks (webhooks.py) — ends in :func:`record_delivery_event`: the ledger row
becomes 'bounced' (which suppresses the address in later campaigns, see queries.ledger) and a
``record_delivery_problem`` job tells the subscriptions service, which owns the subscriber, to
stop them (hard bounce) or unsubscribe them (complaint). Soft bounces change nothing.

Point the MX of ``BREVDUE_MAILER_BOUNCE_DOMAIN`` (or a relay's transport for it) at
``BREVDUE_MAILER_BOUNCE_HOST:BOUNCE_PORT`` of the bounces process (bounces_service.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.mailer import mime, queries
from services.mailer.bounces import EventKind, classify, parse_campaign_message_id, parse_verp
from services.mailer.metrics import MailerMetrics
from services.mailer.providers import ProviderEvent
from services.mailer.resident_events import announce_problem
from shared.clock import utcnow
from shared.contracts import DeliveryProblem
from shared.db import create_engine
from shared.errors import QueueUnavailable
from shared.jobs import create_job_pool, enqueue
from shared.queues import RECORD_DELIVERY_PROBLEM, SUBSCRIPTIONS_QUEUE
from shared.settings import Settings
from shared.statuses import DeliveryStatus

log = structlog.get_logger(__name__)

_MAX_REPORT = 2 * 1024 * 1024  # reports quote the original; campaign mail is far smaller

# Failures of the stores a report is written to: the sender should try again later.
STORE_ERRORS = (SQLAlchemyError, RedisError, OSError, QueueUnavailable)


@dataclass
class InboundRuntime:
    """What the bounces process holds: database, Redis, the subscriptions job queue."""

    settings: Settings
    engine: AsyncEngine
    redis: Redis
    problem_jobs: ArqRedis  # enqueues record_delivery_problem on the subscriptions queue
    metrics: MailerMetrics
    verp_secrets: tuple[bytes, ...]
    domain: str
    servers: list[asyncio.Server] = field(default_factory=list)

    @classmethod
    async def open(cls, settings: Settings) -> InboundRuntime:
        """Create the engine and the Redis clients (connections open on first use)."""
        _name, address = mime.parse_mailbox(settings.mail_from)
        return cls(
            settings=settings,
            engine=create_engine(settings.database_url),
            redis=Redis.from_url(settings.redis_url),
            problem_jobs=await create_job_pool(settings.redis_url, SUBSCRIPTIONS_QUEUE),
            metrics=MailerMetrics(),
            # Every key verifies a return path (as in the sending runtime).
            verp_secrets=tuple(key.reveal().encode() for key in reversed(settings.secret_keys)),
            domain=mime.domain_of(address),
        )

    async def close(self) -> None:
        """Stop the listeners and close the connections."""
        for server in self.servers:
            server.close()
            await server.wait_closed()
        self.servers.clear()
        await self.problem_jobs.aclose()
        await self.redis.aclose()
        await self.engine.dispose()


async def record_delivery_event(
    runtime: InboundRuntime,
    campaign_id: int,
    subscriber_id: int,
    kind: EventKind,
    *,
    code: int | None,
    description: str,
) -> bool:
    """Record a hard bounce or complaint for one ledger row and tell the subscriptions service.

    Returns True when the row exists (also when it was already 'bounced': a report seen twice
    enqueues the same job id, which arq runs once). Raises a STORE_ERRORS member when the
    database or Redis fails, so the sender is asked to try again.
    """
    if kind == "soft":
        return False
    now = utcnow()
    async with runtime.engine.begin() as conn:
        found = await queries.record_bounce(
            conn,
            campaign_id=campaign_id,
            subscriber_id=subscriber_id,
            code=code,
            response=description,
            now=now,
        )
    if not found:
        log.info("bounce.no_delivery", kind=kind, campaign=campaign_id)
        return False
    runtime.metrics.ledger.labels(DeliveryStatus.BOUNCED).inc()
    problem = DeliveryProblem(
        subscriber_id=subscriber_id,
        campaign_id=campaign_id,
        kind="hard_bounce" if kind == "hard" else "complaint",
        code=code,
        description=description[:500],
        at=now,
    )
    await enqueue(runtime.problem_jobs, RECORD_DELIVERY_PROBLEM, problem)
    await announce_problem(runtime.redis, runtime.engine, campaign_id, subscriber_id, kind)
    log.info("bounce.recorded", kind=kind, campaign=campaign_id, code=code)
    return True


async def record_reported(runtime: InboundRuntime, event: ProviderEvent) -> bool:
    """Record a provider's report, found by VERP return path, our Message-ID or recipient."""
    if event.kind == "soft":
        return False
    ids = parse_verp(runtime.verp_secrets, event.return_path) if event.return_path else None
    if ids is None and event.message_id:
        ids = parse_campaign_message_id(event.message_id)
    if ids is None and event.recipient:
        async with runtime.engine.connect() as conn:
            ids = await queries.latest_delivery_to(conn, event.recipient)
    if ids is None:
        log.info("bounce.unmatched", kind=event.kind)
        return False
    return await record_delivery_event(
        runtime, ids[0], ids[1], event.kind, code=event.code, description=event.description
    )


async def process_report(runtime: InboundRuntime, recipients: list[str], data: bytes) -> int:
    """Record a DSN or complaint that came back to VERP ``recipients``; return rows found."""
    bounce = classify(data)
    if bounce is None or bounce.kind == "soft":
        return 0
    found = 0
    for recipient in recipients:
        ids = parse_verp(runtime.verp_secrets, recipient)
        if ids is not None and await record_delivery_event(
            runtime, ids[0], ids[1], bounce.kind, code=bounce.code, description=bounce.describe()
        ):
            found += 1
    return found


class BounceHandler:
    """aiosmtpd hooks: refuse what is not ours, record what is."""

    def __init__(self, runtime: InboundRuntime) -> None:
        self.runtime = runtime

    async def handle_RCPT(  # aiosmtpd calls its hooks by these names
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        """Accept only signed VERP addresses."""
        if parse_verp(self.runtime.verp_secrets, address) is None:
            return "550 5.1.1 not a bounce address here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # aiosmtpd calls its hooks by these names
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Read the report; ask the sender to retry if it cannot be stored now."""
        data = envelope.original_content or b""
        try:
            await process_report(self.runtime, list(envelope.rcpt_tos), bytes(data))
        except STORE_ERRORS as exc:
            log.warning("bounce.store_failed", error=type(exc).__name__)
            return "451 4.3.0 try again later"
        return "250 OK"


async def start_listener(runtime: InboundRuntime, host: str, port: int) -> asyncio.Server:
    """Listen for bounces on ``host:port`` in the running event loop (closed with the runtime)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            BounceHandler(runtime),
            hostname=runtime.domain,
            data_size_limit=_MAX_REPORT,
            decode_data=False,
        ),
        host,
        port,
    )
    runtime.servers.append(server)
    return server
