"""Sending queued webhook deliveries: attempts, retries with growing waits, and disabling.

Every campaigns replica runs one dispatcher in its lifespan. It polls for pending deliveries
whose time has come, claims each with a conditional UPDATE (so one replica sends it), signs and
POSTs it, and records the outcome. A failed attempt waits the next of the configured delays;
after the last it has failed, and that counts against its endpoint: after
``webhook_disable_after`` failed deliveries in a row (no success between), the endpoint is
disabled with the reason, shown to staff, until they enable it again. The queue lives in the
database, so nothing waits in memory and a restart loses no delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timedelta
from typing import Final

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.campaigns.queries import webhooks as rows
from services.campaigns.webhook_http import Outcome, new_client, post
from services.campaigns.webhook_signing import signed_headers
from shared.clock import utcnow
from shared.settings import Settings

log = structlog.get_logger(__name__)

# Deliveries claimed per poll, and sent side by side.
BATCH: Final = 20
# A claimed delivery is due again after this if its replica died during the attempt.
LEASE_MARGIN: Final = 60.0
# The log keeps finished deliveries (their bodies name residents by key) this long.
KEEP_LOG: Final = timedelta(days=30)
PRUNE_EVERY: Final = 600.0


def next_attempt(
    settings: Settings, attempts_done: int, now: datetime
) -> tuple[str, datetime | None]:
    """After ``attempts_done`` failed attempts: still pending (and when), or failed."""
    delays = settings.webhook_retry_delays
    if attempts_done > len(delays):
        return rows.FAILED, None
    return rows.PENDING, now + timedelta(seconds=delays[attempts_done - 1])


async def record_outcome(
    session: AsyncSession,
    settings: Settings,
    delivery: rows.DeliveryRow,
    outcome: Outcome,
) -> str:
    """Store an attempt's outcome, and disable the endpoint at its limit; the new status."""
    now = utcnow()
    if outcome.ok:
        status, when = rows.DELIVERED, None
    else:
        status, when = next_attempt(settings, delivery.attempts + 1, now)
    await rows.record_attempt(
        session,
        delivery.id,
        status=status,
        code=outcome.code,
        error=outcome.error,
        next_attempt_at=when,
        now=now,
    )
    if status == rows.DELIVERED:
        await rows.reset_failures(session, delivery.endpoint_id)
    elif status == rows.FAILED:
        in_row = await rows.count_failure(session, delivery.endpoint_id)
        if in_row >= settings.webhook_disable_after:
            reason = f"{in_row} deliveries in a row failed after every retry"
            await rows.set_endpoint_active(session, delivery.endpoint_id, False, now, reason)
            log.warning("webhook.disabled", endpoint_id=delivery.endpoint_id, failures=in_row)
    await session.commit()
    return status


class Dispatcher:
    """The delivery loop of one replica, started and stopped by the app's lifespan."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.lease = timedelta(seconds=settings.webhook_timeout + LEASE_MARGIN)
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin polling."""
        self._client = new_client(self.settings.webhook_timeout)
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Stop polling; an attempt cut off here is due again when its lease ends."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def poll(self) -> int:
        """Send every due delivery this replica claims (a batch at a time); how many."""
        async with self.sessionmaker() as session:
            due = await rows.due_deliveries(session, utcnow(), BATCH)
            claimed = [
                delivery
                for delivery in due
                if await rows.claim_delivery(session, delivery, self.lease, utcnow())
            ]
            await session.commit()
            endpoints = {
                endpoint.id: endpoint
                for endpoint in await rows.all_endpoints(session)
                if endpoint.id in {d.endpoint_id for d in claimed}
            }
        results = await asyncio.gather(
            *(
                self._attempt(d, endpoints[d.endpoint_id])
                for d in claimed
                if d.endpoint_id in endpoints
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                # The outcome could not be stored: the delivery is due again after its lease.
                log.warning("webhook.attempt_not_recorded", error=repr(result)[:300])
        return len(claimed)

    async def _attempt(self, delivery: rows.DeliveryRow, endpoint: rows.EndpointRow) -> None:
        assert self._client is not None
        body = delivery.body.encode()
        headers = signed_headers(endpoint.secret, delivery.message_id, int(time.time()), body)
        outcome = await post(
            self._client,
            endpoint.url,
            headers,
            body,
            allow_loopback_http=self.settings.webhook_allow_loopback_http,
        )
        async with self.sessionmaker() as session:
            status = await record_outcome(session, self.settings, delivery, outcome)
        log.info(
            "webhook.attempt",
            endpoint_id=endpoint.id,
            delivery_id=delivery.id,
            code=outcome.code,
            status=status,
        )

    async def prune(self) -> int:
        """Delete the log's finished deliveries older than ``KEEP_LOG``."""
        async with self.sessionmaker() as session:
            pruned = await rows.prune_deliveries(session, utcnow() - KEEP_LOG)
            await session.commit()
        return pruned

    async def _run(self) -> None:
        pruned_at: float | None = None
        while True:
            try:
                if pruned_at is None or time.monotonic() - pruned_at > PRUNE_EVERY:
                    pruned_at = time.monotonic()
                    await self.prune()
                if await self.poll() == BATCH:
                    continue  # more may be due at once
            except Exception as exc:
                log.warning("webhook.poll_failed", error=repr(exc)[:300])
            await asyncio.sleep(self.settings.webhook_poll_interval)
