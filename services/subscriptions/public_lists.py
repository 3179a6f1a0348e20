"""The public lists as sign-ups last saw them, read at most once per ``ttl`` seconds per process.

A first sign-up on PostgreSQL renders its confirmation mail from these rows before its one
statement writes anything (queries/first_signup.py), and that statement writes only while the
lists are still what the mail says (public, double opt-in, not youth lists, the same slugs and
names); otherwise the general path records the sign-up from the database as it is. So a staff
change is never written or mailed wrongly: it only sends first sign-ups the longer way until
the rows here are read again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import queries
from services.subscriptions.queries import ListRow
from services.subscriptions.read_every import ReadEvery


async def read_public_lists(session: AsyncSession) -> Mapping[str, ListRow]:
    """Every public list, by slug."""
    async with session.begin():
        rows = await queries.get_public_lists(session)
    return {row.slug: row for row in rows}


# Every public list by slug, read at most once per ttl (read_every.py):
# ``ReadEvery(sessionmaker, read_public_lists, ttl=…)``.
PublicListDirectory: TypeAlias = ReadEvery[Mapping[str, ListRow]]
