"""Global and per-domain send rates shared by every mailer process, counted in Redis.

Fixed one-second windows: each process leases tokens for the current second from a Redis
counter in small blocks (a Lua script, so the lease is atomic), and hands them out locally
without a round trip per message. Redis keeps the total per second at or under the limit across
processes; leftover local tokens lapse with their second.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Protocol

from shared.queues import KEY_PREFIX

_LEASE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used)
if grant <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], grant)
redis.call('PEXPIRE', KEYS[1], 2000)
return grant
"""
# A lease is this share of the limit: small enough for fairness between processes, large
# enough that a fast sender asks Redis a few dozen times a second, not once per message.
_LEASE_SHARE = 20


class ScriptRunner(Protocol):
    """The Redis call the limiter needs."""

    async def eval(self, script: str, numkeys: int, *keys_and_args: str | int) -> object:
        """Run a Lua script."""


@dataclass(slots=True)
class _Lease:
    second: int
    tokens: int


class RateLimiter:
    """Waits until a message to ``domain`` fits both the global and the domain's rate."""

    def __init__(
        self,
        redis: ScriptRunner | None,
        *,
        per_second: int = 0,
        per_domain: int = 0,
        domains: dict[str, int] | None = None,
    ) -> None:
        self._redis = redis
        self._global = per_second
        self._default = per_domain
        self._domains = {d.lower(): n for d, n in (domains or {}).items()}
        self._leases: dict[str, _Lease] = {}

    @property
    def enabled(self) -> bool:
        """False when no limit is configured (then acquire returns at once)."""
        return self._redis is not None and bool(self._global or self._default or self._domains)

    async def acquire(self, domain: str) -> None:
        """Return once one message to ``domain`` may be sent."""
        limit = self._domains.get(domain.lower(), self._default)
        while True:
            seconds = set()
            if limit:
                seconds.add(await self._take("domain:" + domain.lower(), limit))
            if self._global:
                seconds.add(await self._take("global", self._global))
            # Both tokens must belong to the current second; one that waited into the next
            # second would let the other's window run over. Retake (a lapsed token is unused
            # capacity, never excess).
            if seconds <= {int(time.time())}:
                return

    async def _take(self, name: str, limit: int) -> int:
        while True:
            now = time.time()
            second = int(now)
            lease = self._leases.get(name)
            if lease is not None and lease.second == second and lease.tokens > 0:
                lease.tokens -= 1
                return second
            key = f"{KEY_PREFIX}mailer:rate:{name}:{second}"
            block = max(1, limit // _LEASE_SHARE)
            assert self._redis is not None  # acquire is only called when enabled
            granted = int(str(await self._redis.eval(_LEASE, 1, key, limit, block)))
            if granted > 0:
                self._leases[name] = _Lease(second, granted - 1)
                return second
            # This second is used up everywhere: wait for the next, spread a little.
            await asyncio.sleep(second + 1 - now + random.uniform(0, 0.01))  # noqa: S311


def parse_domain_limits(value: str) -> dict[str, int]:
    """``"gmail.com=50,outlook.com=20"`` → {"gmail.com": 50, "outlook.com": 20}."""
    limits: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        domain, _, number = item.partition("=")
        if not domain or not number.strip().isdigit():
            raise ValueError(f"bad domain limit {item!r} (expected domain=number)")
        limits[domain.strip().lower()] = int(number)
    return limits
