"""arq plumbing shared by the services that enqueue jobs and the mailer that runs them."""

from __future__ import annotations

from typing import Any

import msgspec
from arq.connections import ArqRedis, RedisSettings, create_pool

# Jobs travel as msgpack instead of arq's default pickle, so write access to Redis cannot run
# code in a worker.
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


def serialize_job(data: dict[str, Any]) -> bytes:
    """arq job serializer: msgpack."""
    return _encoder.encode(data)


def deserialize_job(data: bytes) -> dict[str, Any]:
    """arq job deserializer: msgpack."""
    value = _decoder.decode(data)
    if not isinstance(value, dict):
        raise ValueError("a job must decode to a mapping")
    return value


def redis_settings(redis_url: str) -> RedisSettings:
    """arq connection settings from a redis:// URL."""
    return RedisSettings.from_dsn(redis_url)


async def create_job_pool(redis_url: str, default_queue_name: str) -> ArqRedis:
    """An arq pool that speaks Brevdue's job serializer."""
    return await create_pool(
        redis_settings(redis_url),
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
        default_queue_name=default_queue_name,
    )
