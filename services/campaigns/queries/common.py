"""Helpers every query module of the campaigns service shares."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

# The largest id a BIGINT holds; larger numbers can only name rows that do not exist.
MAX_ID = 2**63 - 1


async def ping(session: AsyncSession) -> None:
    """Run ``SELECT 1``."""
    await session.execute(sa.select(1))


def rowcount(result: Any) -> int:
    """The number of rows a DML statement touched."""
    # Result.rowcount exists on DML results only; the generic Result type does not declare it.
    return int(result.rowcount)
