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


# --- engagement: clicks on tracked links and opens, from the public redirect ----------------

# The subscriptions service appends one entry per click on a tracked link (and per fetch of an
# open pixel) without waiting for the database; the campaigns service, owner of link_clicks and
# campaign_opens, reads them with a consumer group and writes them in batches.
ENGAGEMENT_STREAM: Final = KEY_PREFIX + "stream:engagement"
ENGAGEMENT_GROUP: Final = "campaigns"
# Clicks can arrive faster than campaign events: room for a few minutes of a busy campaign
# while no campaigns service reads. Beyond it the oldest are trimmed (figures, not money).
ENGAGEMENT_MAX_LENGTH: Final = 200_000


class LinkClicked(msgspec.Struct, frozen=True, kw_only=True, tag="click"):
    """A recipient followed a tracked link; ``at`` is the click's time (UTC, epoch seconds)."""

    link_id: int
    subscriber_key: str
    at: float


class MailOpened(msgspec.Struct, frozen=True, kw_only=True, tag="open"):
    """A recipient's mail client fetched the open pixel of a campaign that tracks opens."""

    campaign_id: int
    subscriber_key: str
    at: float


Engagement = LinkClicked | MailOpened

_engagement_decoder: Final = msgspec.msgpack.Decoder(Engagement)


def encode_engagement(event: Engagement) -> dict[bytes, bytes]:
    """Return the stream entry fields for ``event``."""
    return {PAYLOAD_FIELD: msgspec.msgpack.encode(event)}


def decode_engagement(fields: dict[bytes, bytes]) -> Engagement:
    """Read an entry written by ``encode_engagement``; raises ``msgspec.DecodeError``."""
    payload = fields.get(PAYLOAD_FIELD)
    if payload is None:
        raise msgspec.ValidationError("stream entry has no payload field")
    event: Engagement = _engagement_decoder.decode(payload)
    return event


async def publish_engagement(redis: Redis, event: Engagement) -> None:
    """Append ``event`` to the engagement stream."""
    entry = encode_engagement(event)
    fields: dict[FieldT, EncodableT] = {key: value for key, value in entry.items()}
    await redis.xadd(ENGAGEMENT_STREAM, fields, maxlen=ENGAGEMENT_MAX_LENGTH, approximate=True)
