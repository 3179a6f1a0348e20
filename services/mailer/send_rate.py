"""Global and per-domain send rates shared by every mailer process, counted in Redis.

Every limit is a sliding window counter: the count of the current fixed window plus the
previous window's count weighted by the share of it still inside the sliding window. Each
process leases tokens from that counter in small blocks (one Lua script, so reading both
windows and adding the lease is atomic) and hands them out locally without a round trip per
message. Redis keeps the estimate at or under the limit across processes; leftover local tokens
lapse with their window (unused capacity, never excess).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.rate_limit import RateWindow, ScriptRunner


@dataclass(slots=True)
class _Lease:
    window: int
    tokens: int


class RateLimiter:
    """Waits until a message to ``domain`` fits the global and the domain's windows.

    ``minute`` and ``hour`` are the window lengths in seconds; tests shorten them.
    """

    def __init__(
        self,
        redis: ScriptRunner | None,
        *,
        per_second: int = 0,
        per_hour: int = 0,
        per_domain: int = 0,
        domains: dict[str, int] | None = None,
        per_domain_minute: int = 0,
        domains_minute: dict[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        minute: float = 60.0,
        hour: float = 3600.0,
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._minute = minute
        self._global: list[tuple[int, float]] = [
            (limit, length) for limit, length in ((per_second, 1.0), (per_hour, hour)) if limit
        ]
        self._default = (per_domain, per_domain_minute)
        self._domains = {d.lower(): n for d, n in (domains or {}).items()}
        self._domains_minute = {d.lower(): n for d, n in (domains_minute or {}).items()}
        self._windows: dict[str, RateWindow] = {}
        self._leases: dict[str, _Lease] = {}

    @property
    def enabled(self) -> bool:
        """False when no limit is configured (then acquire returns at once)."""
        return self._redis is not None and bool(
            self._global or any(self._default) or self._domains or self._domains_minute
        )

    def _windows_for(self, domain: str) -> list[RateWindow]:
        domain = domain.lower()
        limits = [
            (f"domain:{domain}", self._domains.get(domain, self._default[0]), 1.0),
            (f"domain:{domain}", self._domains_minute.get(domain, self._default[1]), self._minute),
            *(("global", limit, length) for limit, length in self._global),
        ]
        windows = []
        for name, limit, length in limits:
            if not limit:
                continue
            key = f"{name}:{length:g}"
            window = self._windows.get(key)
            if window is None:
                assert self._redis is not None  # acquire is only called when enabled
                window = self._windows[key] = RateWindow(self._redis, name, limit, length)
            windows.append(window)
        return windows

    async def acquire(self, domain: str, deadline: float | None = None) -> bool:
        """Return True once one message to ``domain`` may be sent.

        With a ``deadline`` (``time.monotonic()``), return False instead of waiting past it.
        """
        windows = self._windows_for(domain)
        while True:
            taken = []
            for window in windows:
                index = await self._take(window, deadline)
                if index is None:
                    return False
                taken.append((window, index))
            # Every token must belong to its window's current fixed window; one that waited
            # into the next would let another's count run over. Retake (a lapsed token is
            # unused capacity, never excess).
            now = self._clock()
            if all(window.index(now) == index for window, index in taken):
                return True

    async def _take(self, window: RateWindow, deadline: float | None) -> int | None:
        key = f"{window.name}:{window.length:g}"
        while True:
            now = self._clock()
            lease = self._leases.get(key)
            if lease is not None and lease.window == window.index(now) and lease.tokens > 0:
                lease.tokens -= 1
                return lease.window
            grant = await window.lease(now)
            if grant.tokens > 0:
                self._leases[key] = _Lease(grant.window, grant.tokens - 1)
                return grant.window
            # Full everywhere: wait until it has room, spread a little between processes.
            wait = grant.wait + random.uniform(0, 0.01)  # noqa: S311
            if deadline is not None and time.monotonic() + wait > deadline:
                # Waiting would outlive the batch's time: stop at the deadline instead.
                await asyncio.sleep(max(0.0, deadline - time.monotonic()))
                return None
            await asyncio.sleep(wait)


def parse_domain_limits(value: str) -> dict[str, int]:
    """``"gmail.com=50,outlook.com=20"`` → {"gmail.com": 50, "outlook.com": 20}."""
    limits: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        domain, _, number = item.partition("=")
        if not domain or not number.strip().isdigit():
            raise ValueError(f"bad domain limit {item!r} (expected domain=number)")
        limits[domain.strip().lower()] = int(number)
    return limits
