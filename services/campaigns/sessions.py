"""Staff app sessions, kept server-side in Redis under a random id that the cookie carries.

A new id is issued at every login (no session fixation); a session ends after
``IDLE_SECONDS`` without a request or ``ABSOLUTE_SECONDS`` after login, whichever comes first.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

KEY_PREFIX: Final = "brevdue:campaigns:session:"
COOKIE_NAME: Final = "brevdue_staff"
IDLE_SECONDS: Final = 30 * 60
ABSOLUTE_SECONDS: Final = 12 * 60 * 60
_MAX_ID_LENGTH: Final = 64


@dataclass(frozen=True)
class StaffSession:
    """One signed-in staff user's session."""

    id: str
    user_id: int
    started_at: float


def _key(session_id: str) -> str:
    return KEY_PREFIX + session_id


async def start(redis: Redis, user_id: int, now: float, previous: str | None = None) -> str:
    """Open a session for ``user_id`` under a fresh id, ending ``previous``; return the id."""
    if previous:
        await end(redis, previous)
    session_id = secrets.token_urlsafe(32)
    data = json.dumps({"user_id": user_id, "started_at": now})
    await redis.set(_key(session_id), data, ex=IDLE_SECONDS)
    return session_id


async def load(redis: Redis, session_id: str, now: float) -> StaffSession | None:
    """The live session with this id, its idle timer restarted; None when it has ended."""
    if not session_id or len(session_id) > _MAX_ID_LENGTH:
        return None
    raw = await redis.get(_key(session_id))
    if raw is None:
        return None
    data = json.loads(raw)
    started_at = float(data["started_at"])
    if now - started_at >= ABSOLUTE_SECONDS:
        await end(redis, session_id)
        return None
    await redis.expire(_key(session_id), IDLE_SECONDS)
    return StaffSession(id=session_id, user_id=int(data["user_id"]), started_at=started_at)


async def end(redis: Redis, session_id: str) -> None:
    """End a session (logout)."""
    if session_id and len(session_id) <= _MAX_ID_LENGTH:
        await redis.delete(_key(session_id))
