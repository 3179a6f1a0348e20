"""Readiness: can this process reach its database and Redis right now?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.queries import ping_database

CHECK_TIMEOUT = 3.0


class Pingable(Protocol):
    """A Redis client, as far as readiness cares."""

    def ping(self) -> Awaitable[Any]:
        """Answer PONG or raise."""


async def readiness_problem(engine: AsyncEngine, redis: Pingable) -> str | None:
    """None when ready, else a short reason naming what is down."""
    checks = (("database", lambda: ping_database(engine)), ("redis", redis.ping))
    for name, check in checks:
        try:
            await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT)
        except TimeoutError:
            return f"{name}: no answer within {CHECK_TIMEOUT:g} s"
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            return f"{name}: {type(exc).__name__}"
    return None
