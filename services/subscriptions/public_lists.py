"""The public lists as sign-ups last saw them, read at most once per ``ttl`` seconds per process.

A first sign-up on PostgreSQL renders its confirmation mail from these rows before its one
statement writes anything (queries/first_signup.py), and that statement writes only while the
lists are still what the mail says (public, double opt-in, not youth lists, the same slugs and
names); otherwise the general path records the sign-up from the database as it is. So a staff
change is never written or mailed wrongly: it only sends first sign-ups the longer way until
the rows here are read again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.subscriptions import queries
from services.subscriptions.queries import ListRow


class PublicListDirectory:
    """The public lists by slug, cached like member sites (sites.py) and public fields."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._ttl = ttl
        self._clock = clock
        self._lists: tuple[float, Mapping[str, ListRow]] | None = None

    async def get(self) -> Mapping[str, ListRow]:
        """Every public list, by slug."""
        now = self._clock()
        if self._lists is None or self._lists[0] <= now:
            async with self._sessionmaker() as session, session.begin():
                rows = await queries.get_public_lists(session)
            self._lists = (now + self._ttl, {row.slug: row for row in rows})
        return self._lists[1]

    def forget(self) -> None:
        """Drop what is cached: the next sign-up reads the lists again."""
        self._lists = None
