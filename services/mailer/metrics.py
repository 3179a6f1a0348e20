"""Prometheus metrics of a mailer process: messages per relay and outcome, SMTP latency."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

# SMTP round trips on a LAN take a millisecond; a remote relay under load, seconds.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass
class MailerMetrics:
    """The mailer's collectors, in their own registry (no global state, testable)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.sent = Counter(
            "brevdue_mail_sent",
            "Messages a relay accepted",
            ["relay", "stream"],
            registry=self.registry,
        )
        self.failed = Counter(
            "brevdue_mail_failed",
            "Messages a relay did not take, by kind of failure",
            ["relay", "stream", "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "brevdue_smtp_send_seconds",
            "Time of one SMTP transaction, connection set-up included",
            ["relay", "stream"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ledger = Counter(
            "brevdue_deliveries",
            "Campaign ledger rows settled, by final or interim status",
            ["status"],
            registry=self.registry,
        )

        self.queue_depth = Gauge(
            "brevdue_queue_depth",
            "Jobs in an arq queue (waiting, deferred or running), as last read",
            ["queue"],
            registry=self.registry,
        )

    def relay(self, relay: str, stream: str) -> RelayMetrics:
        """Pre-bound children for one pool, so the hot path does no label lookups."""
        return RelayMetrics(
            sent=self.sent.labels(relay, stream),
            temporary=self.failed.labels(relay, stream, "temporary"),
            permanent=self.failed.labels(relay, stream, "permanent"),
            latency=self.latency.labels(relay, stream),
        )

    def serve(self, port: int, address: str = "0.0.0.0") -> WSGIServer:  # noqa: S104
        """Expose /metrics on ``port`` in a background thread; shut down the returned server."""
        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        return server


@dataclass(frozen=True, slots=True)
class RelayMetrics:
    """The collectors one SMTP pool updates."""

    sent: Counter
    temporary: Counter
    permanent: Counter
    latency: Histogram


async def watch_queue_depth(
    metrics: MailerMetrics, redis_url: str, queues: Sequence[str], interval: float
) -> None:
    """Read each queue's length (ZCARD of arq's sorted set) every ``interval`` s until cancelled."""
    redis: Redis = Redis.from_url(redis_url)
    try:
        while True:
            try:
                for queue in queues:
                    metrics.queue_depth.labels(queue).set(await redis.zcard(queue))
            except (RedisError, OSError) as exc:
                # A Redis outage shows in the workers' own errors; keep the last reading.
                log.warning("metrics.queue_depth_failed", error=repr(exc))
            await asyncio.sleep(max(interval, 0.1))
    finally:
        await redis.aclose()
