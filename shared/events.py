"""Events one service publishes for another on Redis Streams: stream names and payloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from shared import redis_batch
from shared.queues import KEY_PREFIX

_log = structlog.get_logger(__name__)

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


# --- resident and campaign events, for outgoing webhooks -----------------------------------

# The owning services append one entry where a subscription or campaign changed state, after
# the change committed: subscriptions for sign-ups, confirmations and unsubscriptions, the
# mailer for bounces, complaints and finished campaigns. The campaigns service, owner of the
# webhook tables, reads it with a consumer group and fans each entry out to the endpoints that
# asked for its type. An entry nobody reads waits; the cap bounds a stream left unread for days.
RESIDENT_EVENTS_STREAM: Final = KEY_PREFIX + "stream:resident-events"
RESIDENT_EVENTS_GROUP: Final = "webhooks"
RESIDENT_EVENTS_MAX_LENGTH: Final = 100_000

EventType = Literal[
    "subscriber.subscribed",
    "subscriber.confirmed",
    "subscriber.unsubscribed",
    "subscriber.bounced",
    "subscriber.complained",
    "campaign.sent",
]
EVENT_TYPES: Final[tuple[EventType, ...]] = get_args(EventType)


class ResidentEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A subscription or campaign changed state; ``at`` is when (UTC, epoch seconds).

    Residents are named only by their pseudonymous key, never by address or name: a webhook
    receiver that needs more asks the staff API. ``lists`` are list slugs; ``campaign_id`` is
    set for bounces, complaints and sent campaigns; ``recipients`` only for a sent campaign.
    """

    type: EventType
    at: float
    subscriber_key: str | None = None
    lists: tuple[str, ...] = ()
    campaign_id: int | None = None
    recipients: int | None = None


_resident_decoder: Final = msgspec.msgpack.Decoder(ResidentEvent)


def decode_resident_event(fields: dict[bytes, bytes]) -> ResidentEvent:
    """Read an entry written by ``publish_resident_event``; raises ``msgspec.DecodeError``."""
    payload = fields.get(PAYLOAD_FIELD)
    if payload is None:
        raise msgspec.ValidationError("stream entry has no payload field")
    return _resident_decoder.decode(payload)


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One entry for a capped stream, for scripts that append it as one step of more work."""

    stream: str
    field: bytes
    value: bytes
    max_length: int


def resident_event_entry(event: ResidentEvent) -> StreamEntry:
    """``event`` as ``publish_resident_event`` appends it."""
    return StreamEntry(
        RESIDENT_EVENTS_STREAM,
        PAYLOAD_FIELD,
        msgspec.msgpack.encode(event),
        RESIDENT_EVENTS_MAX_LENGTH,
    )


async def publish_resident_event(redis: Redis, event: ResidentEvent) -> None:
    """Append ``event`` to the resident events stream (what ``redis.xadd(…, maxlen=…,
    approximate=True)`` sends, in one round trip with what other requests send meanwhile)."""
    await redis_batch.execute(
        redis,
        "XADD",
        RESIDENT_EVENTS_STREAM,
        "MAXLEN",
        "~",
        RESIDENT_EVENTS_MAX_LENGTH,
        "*",
        PAYLOAD_FIELD,
        msgspec.msgpack.encode(event),
    )


async def announce_resident_event(redis: Redis, event: ResidentEvent) -> bool:
    """Publish ``event`` once its change has committed; False (logged) when Redis is away.

    The change itself stands either way: an event lost here costs a webhook delivery, while
    failing the request would tell the resident their committed sign-up did not happen.
    """
    try:
        await publish_resident_event(redis, event)
    except (RedisError, OSError) as exc:
        _log.warning("resident_event.not_published", type=event.type, error=repr(exc)[:300])
        return False
    return True
