"""Pooled connections the server closed are not handed out (PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from shared.db import create_engine, create_web_engine


async def test_a_connection_the_server_closed_is_replaced_before_use(
    postgres_migrated: str | None,
) -> None:
    if postgres_migrated is None:
        pytest.skip("PostgreSQL only (BREVDUE_TEST_DATABASE_URL)")
    engine = create_web_engine(postgres_migrated)
    admin = create_engine(postgres_migrated)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        # Back in the pool; the server ends that session, as a restart or an operator would.
        async with admin.connect() as conn:
            ended = await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert ended.scalar_one() is True
        await asyncio.sleep(0.3)  # the event loop reads the closed socket
        async with engine.connect() as conn:
            again = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        assert again != pid
    finally:
        await engine.dispose()
        await admin.dispose()


def test_the_web_pool_has_no_overflow(postgres_migrated: str | None) -> None:
    if postgres_migrated is None:
        pytest.skip("PostgreSQL only (BREVDUE_TEST_DATABASE_URL)")
    engine = create_web_engine(postgres_migrated)
    pool = engine.sync_engine.pool
    assert (pool.size(), pool._max_overflow) == (20, 0)  # type: ignore[attr-defined]
