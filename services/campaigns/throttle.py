"""Login throttling in Redis, per address and per client.

Counting attempts per address digest whether or not an account exists means the lock-out
message says nothing about which addresses are staff.
"""

from __future__ import annotations

import hashlib
from typing import Final

from redis.asyncio import Redis

from services.campaigns.errors import LoginThrottled

KEY_PREFIX: Final = "brevdue:campaigns:login-failures:"
# Five wrong passwords lock an address for fifteen minutes; a client gets more room, since
# several staff may share one office address.
ADDRESS_LIMIT: Final = 5
CLIENT_LIMIT: Final = 20
WINDOW_SECONDS: Final = 15 * 60


def _keys(email: str, client: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return KEY_PREFIX + "address:" + digest, KEY_PREFIX + "client:" + client


async def check(redis: Redis, email: str, client: str) -> None:
    """Raise LoginThrottled when the address or the client has failed too often."""
    address_key, client_key = _keys(email, client)
    address_count, client_count = await redis.mget(address_key, client_key)
    for key, count, limit in (
        (address_key, address_count, ADDRESS_LIMIT),
        (client_key, client_count, CLIENT_LIMIT),
    ):
        if count is not None and int(count) >= limit:
            ttl = await redis.ttl(key)
            raise LoginThrottled(max(int(ttl), 1))


async def record_failure(redis: Redis, email: str, client: str) -> None:
    """Count one failed login for the address and for the client."""
    async with redis.pipeline(transaction=True) as pipe:
        for key in _keys(email, client):
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS, nx=True)
        await pipe.execute()


async def clear(redis: Redis, email: str) -> None:
    """Forget the address's failures after a successful login."""
    await redis.delete(_keys(email, "")[0])
