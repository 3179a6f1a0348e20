"""The database's liveness, for the health check."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine


async def ping_database(engine: AsyncEngine) -> None:
    """Run ``SELECT 1``; raise when the database does not answer."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
