"""Sliding-window limits in Redis, shared by every process of the service."""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Final, Protocol
from uuid import uuid4

from shared.queues import KEY_PREFIX

LIMITS_PREFIX: Final = KEY_PREFIX + "limits:"

# One sorted set per key: members are attempts, scores their times in milliseconds. Expired
# attempts are dropped, and a new one is recorded only when fewer than `limit` remain, all
# in one script so concurrent requests from many processes cannot overshoot. Time comes from
# Redis itself, so the service hosts' clocks do not have to agree.
_SCRIPT: Final = """
local key = KEYS[1]
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class ScriptRunner(Protocol):
    """What the limiter needs from a Redis client."""

    def eval(self, script: str, numkeys: int, *keys_and_args: str) -> Awaitable[str] | str:
        """Run a Lua script (the asyncio client returns an awaitable)."""


@dataclass(frozen=True)
class Decision:
    """Whether an attempt may go ahead, and if not, how long until one may."""

    allowed: bool
    retry_after: int = 0  # whole seconds, at least 1 when refused


class SlidingWindow:
    """At most ``limit`` attempts per ``window`` seconds for each key."""

    def __init__(self, redis: ScriptRunner, name: str, *, limit: int, window: int) -> None:
        self._redis = redis
        self._prefix = f"{LIMITS_PREFIX}{name}:"
        self.limit = limit
        self.window = window

    async def hit(self, key: str) -> Decision:
        """Record an attempt for ``key`` if the window has room; refused ones are not counted."""
        args = (self._prefix + key, str(self.window * 1000), str(self.limit), uuid4().hex)
        result = self._redis.eval(_SCRIPT, 1, *args)
        wait_ms = int(await result if inspect.isawaitable(result) else result)
        if wait_ms == 0:
            return Decision(True)
        return Decision(False, max(1, math.ceil(wait_ms / 1000)))
