"""The mailer's campaign events, applied to the campaigns this service owns.

When too much of a campaign's mail fails, the mailer stops claiming it and appends a
``CampaignPaused`` entry to the campaign events stream. Every replica of this service runs one
reader in its lifespan; they share a consumer group, so each entry is applied once in the
common case and acknowledged only after its update has committed. An entry a replica read but
did not acknowledge (it died, or the database was away) stays pending in the group: a replica
that starts claims every pending entry (XAUTOCLAIM), and a reader whose update failed reads
its own pending entries again. Applying an entry twice changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Sequence
from secrets import token_hex
from typing import Any, Final

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.campaigns import queries
from shared.clock import utcnow
from shared.events import (
    CAMPAIGN_EVENTS_GROUP,
    CAMPAIGN_EVENTS_STREAM,
    CampaignPaused,
    decode_campaign_paused,
)

log = structlog.get_logger(__name__)

# Entries fetched per read, and how long a read waits for new ones.
BATCH: Final = 100
BLOCK_MS: Final = 5000
# Waits after a failure (Redis or the database away): doubling from the first to the last.
BACKOFF_FIRST: Final = 0.5
BACKOFF_LAST: Final = 30.0
# Reasons are shown to staff; an oversized one is cut, not refused.
MAX_REASON: Final = 2000
# A stop that cannot reach Redis or the database is not waited for longer than this.
STOP_TIMEOUT: Final = 5.0

_TRANSIENT = (RedisError, OSError, OperationalError, InterfaceError)

Entries = Sequence[tuple[bytes, dict[bytes, bytes]]]


async def pause_for_failures(session: AsyncSession, event: CampaignPaused) -> bool:
    """Pause the campaign the mailer stopped, with its reason; True if the campaign changed."""
    if not 0 < event.campaign_id <= queries.MAX_ID:
        return False  # names no campaign that can exist
    changed = await queries.pause_for_mailer(
        session, event.campaign_id, event.reason[:MAX_REASON], utcnow()
    )
    await session.commit()
    if changed:
        log.warning("campaign.paused_by_mailer", campaign_id=event.campaign_id)
    return changed


class CampaignEventReader:
    """One replica's reader of the campaign events stream, run as a task in the lifespan.

    Other streams of events for this service reuse it with their own ``stream``, ``group`` and
    ``apply_entries`` (see engagement.py).
    """

    stream: str = CAMPAIGN_EVENTS_STREAM
    group: str = CAMPAIGN_EVENTS_GROUP
    task_name: str = "campaign-events"
    batch_size: int = BATCH

    def __init__(
        self,
        redis: Redis,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        block_ms: int = BLOCK_MS,
        backoff: tuple[float, float] = (BACKOFF_FIRST, BACKOFF_LAST),
    ) -> None:
        self.redis = redis
        self.sessionmaker = sessionmaker
        self.block_ms = block_ms
        self.backoff = backoff
        # Unique per process: a pending entry then names the replica that read it.
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{token_hex(3)}"
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the reading task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start reading in a background task."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self.task_name)

    async def stop(self) -> None:
        """Stop reading; an entry being applied is read again by the next replica to start."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task], timeout=STOP_TIMEOUT)

    async def run(self) -> None:
        """Read and apply entries until cancelled, waiting out failures of Redis or the database."""
        delay = self.backoff[0]
        reclaimed = False
        own_pending = True  # start with the entries this consumer read and did not acknowledge
        while True:
            try:
                if not reclaimed:
                    await self._create_group()
                    await self._reclaim()
                    reclaimed = True
                entries = await self._read(own_pending)
                if own_pending and not entries:
                    own_pending = False
                await self.apply_entries(entries)
                delay = self.backoff[0]
            except Exception as exc:
                if isinstance(exc, _TRANSIENT):
                    log.warning("campaign_events.unavailable", error=repr(exc)[:300])
                else:
                    log.error("campaign_events.failed", exc_info=exc)
                own_pending = True  # what failed is still pending under this consumer's name
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    reclaimed = False  # the group (or the stream) was deleted: make it again
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    async def _create_group(self) -> None:
        try:
            # From the stream's start: entries written before the first replica ever ran count.
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _reclaim(self) -> None:
        """Take over every pending entry of the group (a replica that died left them).

        Their processing is left to the reads of this consumer's own pending entries.
        """
        start: Any = "0-0"
        while True:
            reply = await self.redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=0,
                start_id=start,
                count=self.batch_size,
            )
            start = reply[0]
            if reply[1]:
                log.info("campaign_events.reclaimed", entries=len(reply[1]))
            if start in {b"0-0", "0-0"}:
                return

    async def _read(self, own_pending: bool) -> Entries:
        reply = await self.redis.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: "0" if own_pending else ">"},
            count=self.batch_size,
            block=None if own_pending else self.block_ms,
        )
        if not reply:
            return []
        _stream, entries = reply[0]
        # An entry trimmed from the stream while pending comes back without fields.
        return [(entry_id, fields or {}) for entry_id, fields in entries]

    async def apply_entries(self, entries: Entries) -> None:
        """Apply and acknowledge entries read from the stream, one by one."""
        for entry_id, fields in entries:
            await self._apply(entry_id, fields)

    async def _apply(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            event = decode_campaign_paused(fields)
        except msgspec.DecodeError as exc:  # not msgpack, or not the contract's shape
            # It cannot get better by reading it again: drop it, say so.
            log.error("campaign_events.malformed", entry=entry_id, error=str(exc))
        else:
            async with self.sessionmaker() as session:
                await pause_for_failures(session, event)
        await self.redis.xack(self.stream, self.group, entry_id)
