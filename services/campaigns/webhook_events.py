"""The resident events stream, fanned out to webhook endpoints as queued deliveries.

Every replica reads the stream in its lifespan with the consumer group machinery of
mailer_events.py. An entry is acknowledged after its deliveries are committed; one read again
after a failure adds none twice (each delivery row names the entry it came from).
"""

from __future__ import annotations

import msgspec
import structlog

from services.campaigns import webhooks
from services.campaigns.mailer_events import CampaignEventReader, Entries
from shared.events import RESIDENT_EVENTS_GROUP, RESIDENT_EVENTS_STREAM, decode_resident_event

log = structlog.get_logger(__name__)


class ResidentEventReader(CampaignEventReader):
    """One replica's reader of the resident events stream."""

    stream = RESIDENT_EVENTS_STREAM
    group = RESIDENT_EVENTS_GROUP
    task_name = "resident-events"

    async def apply_entries(self, entries: Entries) -> None:
        """Queue each entry's deliveries, then acknowledge it."""
        for entry_id, fields in entries:
            try:
                event = decode_resident_event(fields)
            except msgspec.DecodeError as exc:
                log.error("resident_events.malformed", entry=entry_id, error=str(exc))
            else:
                async with self.sessionmaker() as session:
                    await webhooks.fan_out(session, entry_id.decode(), event)
            await self.redis.xack(self.stream, self.group, entry_id)
