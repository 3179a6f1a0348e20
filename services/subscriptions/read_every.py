"""A value read from the database at most once per ``ttl`` seconds per process.

For what every sign-up needs and staff change seldom (public custom fields, public lists): a
sign-up then needs no transaction of its own to read it, and staff changes apply within
``ttl`` (member sites are cached the same way, per key, in sites.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")


class ReadEvery(Generic[T]):
    """``read(session)``'s result, read again once ``ttl`` seconds have passed."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        read: Callable[[AsyncSession], Awaitable[T]],
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._read = read
        self._ttl = ttl
        self._clock = clock
        self._value: tuple[float, T] | None = None

    async def get(self) -> T:
        """The value as last read, read now when it is older than ``ttl``."""
        now = self._clock()
        if self._value is None or self._value[0] <= now:
            async with self._sessionmaker() as session:
                value = await self._read(session)
            self._value = (now + self._ttl, value)
        return self._value[1]

    def forget(self) -> None:
        """Drop what is kept: the next ``get`` reads again (tests, a change seen elsewhere)."""
        self._value = None
