"""A compiled segment is planned with its own values every time on PostgreSQL: the generic plan
of a prepared statement, which PostgreSQL may switch to from the sixth run on a connection,
took 40-48 s for a segment its own plan counts in 0.6 s (bench/segments.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import queries
from shared.db import create_sessionmaker
from shared.segment_sql import Context, members
from shared.segments import from_builtins

RULES = {
    "type": "group",
    "match": "all",
    "rules": [{"type": "condition", "field": "country", "op": "any_of", "value": ["DK"]}],
}


async def test_a_segment_count_asks_for_a_custom_plan(db: AsyncEngine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("plan_cache_mode is PostgreSQL's")
    condition = members(from_builtins(RULES), Context(now=datetime.now(UTC)))
    async with create_sessionmaker(db)() as session, session.begin():
        before = await session.scalar(sa.text("SHOW plan_cache_mode"))
        # Seven counts on one connection: past the five custom plans PostgreSQL tries first.
        counts = {await queries.count_members(session, condition) for _ in range(7)}
        during = await session.scalar(sa.text("SHOW plan_cache_mode"))
    async with create_sessionmaker(db)() as session, session.begin():
        after = await session.scalar(sa.text("SHOW plan_cache_mode"))

    assert counts == {0}
    assert (before, during, after) == ("auto", "force_custom_plan", "auto")
