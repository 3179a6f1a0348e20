"""What a mailer process holds while it runs: database, SMTP pools, signer, compiled campaigns."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.mailer import mime
from services.mailer.bounces import verp_address
from services.mailer.campaign_cache import CampaignCache
from services.mailer.config import MailerOptions, load_signer
from services.mailer.metrics import MailerMetrics, watch_queue_depth
from services.mailer.recipient_links import Links
from services.mailer.relays import Relay, RelayRouter, parse_relays
from services.mailer.send_rate import RateLimiter, parse_domain_limits
from services.mailer.signing import DkimSigner
from services.mailer.smtp_pool import SmtpPool
from shared.db import SqliteWriter, create_engine, create_sessionmaker, sqlite_writer
from shared.queues import BULK_QUEUE, TRANSACTIONAL_QUEUE
from shared.settings import Settings, SmtpSettings
from shared.tokens import TokenSigner

RENDER_THREADS = 2


@dataclass
class MailerRuntime:
    """Long-lived resources shared by every job of one mailer process."""

    settings: Settings
    options: MailerOptions
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    signer: TokenSigner
    links: Links
    campaigns: CampaignCache
    bulk_smtp: RelayRouter
    transactional_smtp: RelayRouter
    from_header: str
    envelope_from: str
    domain: str
    metrics: MailerMetrics
    limiter: RateLimiter
    verp_secrets: tuple[bytes, ...] = ()
    redis: Redis | None = None
    # Where the mailer tells the campaigns service about pauses it asked for (connects lazily).
    events: Redis | None = None
    metrics_server: WSGIServer | None = None
    dkim: DkimSigner | None = None
    depth_watch: asyncio.Task[None] | None = None
    # A costly campaign's messages are rendered and signed off the event loop: its template (up
    # to its time limit per recipient) must not hold up transactional mail sharing the loop.
    renderer: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(RENDER_THREADS, "campaign-render")
    )
    # Campaigns whose messages took too long to make (campaign_delivery.SLOW_RENDER).
    costly_campaigns: set[int] = field(default_factory=set)
    # How many of a campaign's messages took longer than SLOW_RENDER to make on the loop.
    slow_renders: dict[int, int] = field(default_factory=dict)
    # SQLite only: the thread that runs a chunk's claim and outcomes (shared.db.SqliteWriter).
    ledger_writer: SqliteWriter | None = None

    @classmethod
    def start(cls, settings: Settings, options: MailerOptions) -> MailerRuntime:
        """Create the resources; connections open lazily on first use."""
        name, address = mime.parse_mailbox(settings.mail_from)
        domain = mime.domain_of(address)
        engine = create_engine(settings.database_url)
        signer = TokenSigner(settings.secret_keys)
        metrics = MailerMetrics()
        relays = parse_relays(options.relays) or [(settings.smtp, 1)]
        domain_limits = parse_domain_limits(options.domain_limits)
        domain_limits_per_minute = parse_domain_limits(options.domain_limits_per_minute)
        limited = bool(
            options.rate_limit
            or options.rate_limit_per_hour
            or options.domain_rate_limit
            or options.domain_rate_limit_per_minute
            or domain_limits
            or domain_limits_per_minute
        )
        redis = Redis.from_url(settings.redis_url) if limited else None
        return cls(
            settings=settings,
            options=options,
            engine=engine,
            sessions=create_sessionmaker(engine),
            signer=signer,
            links=Links(public_url=settings.subscriptions_public_url, signer=signer),
            campaigns=CampaignCache(settings.mail_from, own_url=settings.subscriptions_public_url),
            bulk_smtp=_router(relays, options, domain, metrics, bulk=True),
            transactional_smtp=_router(relays, options, domain, metrics, bulk=False),
            from_header=mime.format_mailbox(name, address),
            envelope_from=address,
            domain=domain,
            metrics=metrics,
            limiter=RateLimiter(
                redis,
                per_second=options.rate_limit,
                per_hour=options.rate_limit_per_hour,
                per_domain=options.domain_rate_limit,
                domains=domain_limits,
                per_domain_minute=options.domain_rate_limit_per_minute,
                domains_minute=domain_limits_per_minute,
            ),
            # Every key verifies a return path, the last one signs (as with tokens).
            verp_secrets=tuple(key.reveal().encode() for key in reversed(settings.secret_keys)),
            redis=redis,
            events=Redis.from_url(settings.redis_url),
            metrics_server=metrics.serve(options.metrics_port) if options.metrics_port else None,
            dkim=load_signer(options),
            ledger_writer=sqlite_writer(settings.database_url),
        )

    def signed(self, message: bytes) -> bytes:
        """The final message bytes: DKIM-signed when a key is configured."""
        return message if self.dkim is None else self.dkim.sign(message)

    def return_path(self, campaign_id: int, subscriber_id: int, default: str) -> str:
        """The envelope sender: a VERP address when a bounce domain is set, else ``default``."""
        domain = self.options.bounce_domain
        if not domain:
            return default
        return verp_address(self.verp_secrets[0], campaign_id, subscriber_id, domain)

    async def open(self) -> None:
        """Start the queue depth gauge, when configured (bounces: see bounces_service.py)."""
        if self.metrics_server is not None and self.depth_watch is None:
            self.depth_watch = asyncio.create_task(
                watch_queue_depth(
                    self.metrics,
                    self.settings.redis_url,
                    (TRANSACTIONAL_QUEUE, BULK_QUEUE),
                    self.options.queue_depth_interval,
                )
            )

    async def close(self) -> None:
        """Close the gauge, SMTP connections and the database engine."""
        if self.depth_watch is not None:
            self.depth_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.depth_watch
            self.depth_watch = None
        await self.bulk_smtp.close()
        await self.transactional_smtp.close()
        self.renderer.shutdown(wait=False, cancel_futures=True)
        self.campaigns.clear()
        if self.ledger_writer is not None:
            await self.ledger_writer.close()
        await self.engine.dispose()
        if self.redis is not None:
            await self.redis.aclose()
        if self.events is not None:
            await self.events.aclose()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
            self.metrics_server.server_close()


def _router(
    relays: list[tuple[SmtpSettings, int]],
    options: MailerOptions,
    local_hostname: str,
    metrics: MailerMetrics,
    *,
    bulk: bool,
) -> RelayRouter:
    # Campaign and transactional mail get separate connections, so neither waits for the other.
    stream = "bulk" if bulk else "transactional"
    size = options.smtp_connections if bulk else options.transactional_connections
    pools = []
    for relay, weight in relays:
        name = f"{relay.host}:{relay.port}"
        pool = SmtpPool(
            relay,
            size,
            local_hostname=local_hostname,
            idle_probe_after=options.idle_probe_after,
            pipelining=bulk and bool(options.smtp_pipelining),
            metrics=metrics.relay(name, stream),
        )
        pools.append(Relay(name=name, weight=weight, pool=pool))
    return RelayRouter(pools, cooldown=options.relay_cooldown)
