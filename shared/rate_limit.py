"""Rate limits shared by every process of a service, counted in Redis.

Two kinds of window, for two kinds of limit:

- ``AttemptWindow`` counts single attempts exactly (a sorted set of their times per key): few
  attempts per key over long windows, where a resident must get exactly the allowance the
  settings promise (sign-ups per address, confirmation mails per day).
- ``RateWindow`` is a sliding-window counter (the current fixed window's count plus the previous
  one's, weighted by the share of it still inside the sliding window) that hands out tokens in
  blocks: thousands of messages a second, where a round trip or a sorted-set member per message
  would cost more than the send. It errs on the safe side: never over the limit, at times under.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from uuid import uuid4

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from shared import redis_batch
from shared.queues import KEY_PREFIX

LIMITS_PREFIX: Final = KEY_PREFIX + "limits:"
RATES_PREFIX: Final = KEY_PREFIX + "mailer:rate:"


class ScriptRunner(Protocol):
    """What the windows need from a Redis client."""

    def eval(self, script: str, numkeys: int, *keys_and_args: str) -> Awaitable[Any] | Any:
        """Run a Lua script (the asyncio client returns an awaitable)."""

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: str) -> Awaitable[Any] | Any:
        """Run a Lua script Redis already holds, by its SHA1 digest."""


@dataclass(frozen=True)
class Script:
    """A Lua script and its SHA1 digest, run by digest so its text is not resent each time."""

    text: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "sha", hashlib.sha1(self.text.encode(), usedforsecurity=False).hexdigest()
        )


async def run_script(
    redis: ScriptRunner, script: Script, numkeys: int, *args: str | bytes | int | float
) -> object:
    """Run ``script`` by its digest (EVALSHA), and by its text (EVAL, which also makes Redis
    keep it) when Redis does not hold it yet: after a restart, a SCRIPT FLUSH or on a new
    server. Any client will do, which is why this is not redis-py's register_script (bound to
    one client); the fallback is the same."""
    # Bytes (a job) go as they are; redis-py declares str but sends bytes unchanged.
    values: list[Any] = [arg if isinstance(arg, bytes) else str(arg) for arg in args]
    if isinstance(redis, Redis):
        # The asyncio client: in one round trip with what other requests send meanwhile.
        try:
            return await redis_batch.execute(redis, "EVALSHA", script.sha, numkeys, *values)
        except NoScriptError:
            return await redis_batch.execute(redis, "EVAL", script.text, numkeys, *values)
    try:
        result = redis.evalsha(script.sha, numkeys, *values)
        return await result if inspect.isawaitable(result) else result
    except NoScriptError:
        result = redis.eval(script.text, numkeys, *values)
        return await result if inspect.isawaitable(result) else result


# --- attempts ------------------------------------------------------------------------------

# One sorted set per key: members are attempts, scores their times in milliseconds. Expired
# attempts are dropped, and a new one is recorded only when fewer than `limit` remain, all
# in one script so concurrent requests from many processes cannot overshoot. Time comes from
# Redis itself, so the service hosts' clocks do not have to agree.
# As a Lua function, for scripts that count an attempt as one step of more work
# (shared/jobs.py: enqueue_within_limit). Returns 0 (counted) or the milliseconds to wait.
ATTEMPT_LUA: Final = """
local function attempt(key, window, limit, member)
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, window)
    return 0
  end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
"""
_ATTEMPT: Final = Script(
    ATTEMPT_LUA + "return attempt(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])\n"
)


@dataclass(frozen=True)
class Decision:
    """Whether an attempt may go ahead, and if not, how long until one may."""

    allowed: bool
    retry_after: int = 0  # whole seconds, at least 1 when refused


class AttemptWindow:
    """At most ``limit`` attempts per ``window`` seconds for each key, counted exactly."""

    def __init__(self, redis: ScriptRunner, name: str, *, limit: int, window: int) -> None:
        self._redis = redis
        self._prefix = f"{LIMITS_PREFIX}{name}:"
        self.limit = limit
        self.window = window

    async def hit(self, key: str) -> Decision:
        """Record an attempt for ``key`` if the window has room; refused ones are not counted."""
        wait_ms = int(str(await run_script(self._redis, _ATTEMPT, 1, *self.attempt(key))))
        return decision(wait_ms)

    def attempt(self, key: str) -> tuple[str, str, str, str]:
        """The Redis key and the arguments of ``ATTEMPT_LUA``'s ``attempt`` for ``key``."""
        return (self._prefix + key, str(self.window * 1000), str(self.limit), uuid4().hex)


def decision(wait_ms: int) -> Decision:
    """What ``attempt`` answered (0, or the milliseconds to wait), as a Decision."""
    if wait_ms == 0:
        return Decision(True)
    return Decision(False, max(1, math.ceil(wait_ms / 1000)))


# --- message rates ------------------------------------------------------------------------

# KEYS: current window, previous window. ARGV: limit, block, unexpired share of the previous
# window, expiry in ms. Returns {granted, current count, previous count}.
_LEASE: Final = Script(
    """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local estimate = current + previous * tonumber(ARGV[3])
local grant = math.min(tonumber(ARGV[2]), math.floor(tonumber(ARGV[1]) - estimate))
if grant <= 0 then return {0, current, previous} end
redis.call('INCRBY', KEYS[1], grant)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return {grant, current + grant, previous}
"""
)
# A lease is this share of the limit: small enough for fairness between processes, large
# enough that a fast sender asks Redis a few dozen times a window, not once per message.
_LEASE_SHARE = 20


@dataclass(frozen=True, slots=True)
class Grant:
    """What one lease request got: tokens, or how long until the window has room again."""

    tokens: int
    window: int  # index of the fixed window the tokens were counted in
    wait: float  # seconds to wait before asking again (0 when tokens were granted)


class RateWindow:
    """One limit of ``limit`` messages per ``length`` seconds, leased from Redis in blocks."""

    def __init__(self, redis: ScriptRunner, name: str, limit: int, length: float) -> None:
        self._redis = redis
        self.name = name
        self.limit = limit
        self.length = length
        self.block = max(1, limit // _LEASE_SHARE)

    def index(self, now: float) -> int:
        """The fixed window ``now`` falls in."""
        return int(now // self.length)

    async def lease(self, now: float) -> Grant:
        """Count up to one block of tokens at time ``now`` (seconds since the epoch)."""
        index = self.index(now)
        unexpired = 1.0 - (now - index * self.length) / self.length  # share of the previous
        prefix = f"{RATES_PREFIX}{self.name}:{self.length:g}:"
        reply = await run_script(
            self._redis,
            _LEASE,
            2,
            f"{prefix}{index}",
            f"{prefix}{index - 1}",
            self.limit,
            self.block,
            repr(unexpired),
            int(self.length * 2000) + 1000,  # long enough to serve as the next "previous"
        )
        assert isinstance(reply, list)
        granted, current, previous = (int(str(value)) for value in reply)
        if granted > 0:
            return Grant(granted, index, 0.0)
        left = (index + 1) * self.length - now
        if current + 1 > self.limit or not previous:
            wait = left  # only a new window makes room
        else:
            # The previous window's weight shrinks by previous/length per second.
            needed = current + previous * unexpired + 1 - self.limit
            wait = min(left, needed * self.length / previous)
        return Grant(0, index, max(wait, 0.001))
