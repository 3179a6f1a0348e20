"""Readiness: can this process reach its database and Redis right now?"""

from __future__ import annotations

import asyncio
from typing import Final

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.campaigns import queries

_CHECK_TIMEOUT: Final = 3.0  # seconds; a probe must answer before the orchestrator gives up


async def readiness(sessionmaker: async_sessionmaker[AsyncSession], redis: Redis) -> dict[str, str]:
    """Each dependency mapped to "ok" or the reason it failed."""
    database, queue = await asyncio.gather(_database(sessionmaker), _redis(redis))
    return {"database": database, "redis": queue}


async def _database(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    try:
        async with sessionmaker() as session:
            await asyncio.wait_for(queries.ping(session), _CHECK_TIMEOUT)
    except TimeoutError:
        return "timed out"
    except Exception as exc:  # any driver error means "not ready"; report, don't crash
        return f"{type(exc).__name__}: {exc}"[:200]
    return "ok"


async def _redis(redis: Redis) -> str:
    try:
        await asyncio.wait_for(redis.ping(), _CHECK_TIMEOUT)
    except TimeoutError:
        return "timed out"
    except Exception as exc:  # as above
        return f"{type(exc).__name__}: {exc}"[:200]
    return "ok"
