"""Events one service publishes for another on Redis Streams: stream names and payloads."""

from __future__ import annotations

from typing import Final

import msgspec
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from shared.queues import KEY_PREFIX

# The mailer appends here when it stops sending a campaign on its own (too many failures); the
# campaigns service, owner of ``campaigns.status``, reads it with a consumer group. A stream
# keeps entries until they are acknowledged, so a campaigns service that was down still sees them.
CAMPAIGN_EVENTS_STREAM: Final = KEY_PREFIX + "stream:campaign-events"
CAMPAIGN_EVENTS_GROUP: Final = "campaigns"
# Entries carry their payload under this one field, as msgpack.
PAYLOAD_FIELD: Final = b"payload"
# Entries are acknowledged within seconds; the cap only bounds a stream nobody reads.
STREAM_MAX_LENGTH: Final = 10_000


class CampaignPaused(msgspec.Struct, frozen=True, kw_only=True):
    """The mailer stopped claiming mail for a campaign; ``reason`` is shown to staff."""

    campaign_id: int
    reason: str


_decoder: Final = msgspec.msgpack.Decoder(CampaignPaused)


def encode_campaign_paused(event: CampaignPaused) -> dict[bytes, bytes]:
    """Return the stream entry fields for ``event``."""
    return {PAYLOAD_FIELD: msgspec.msgpack.encode(event)}


def decode_campaign_paused(fields: dict[bytes, bytes]) -> CampaignPaused:
    """Read an entry written by ``encode_campaign_paused``; raises ``msgspec.DecodeError``."""
    payload = fields.get(PAYLOAD_FIELD)
    if payload is None:
        raise msgspec.ValidationError("stream entry has no payload field")
    return _decoder.decode(payload)


async def publish_campaign_paused(redis: Redis, event: CampaignPaused) -> None:
    """Append ``event`` to the campaign events stream."""
    entry = encode_campaign_paused(event)
    fields: dict[FieldT, EncodableT] = {key: value for key, value in entry.items()}
    await redis.xadd(
        CAMPAIGN_EVENTS_STREAM,
        fields,
        maxlen=STREAM_MAX_LENGTH,
        approximate=True,
    )
