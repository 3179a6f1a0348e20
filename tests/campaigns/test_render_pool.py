"""The render workers: a call that overruns its time or memory becomes a 422, and the pool
goes on working."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from services.campaigns.errors import InvalidInput
from services.campaigns.render_pool import RenderPool


@pytest.fixture
def pool() -> Iterator[RenderPool]:
    renderer = RenderPool(workers=1, timeout=5.0, memory_limit=512 * 1024 * 1024)
    yield renderer
    renderer.close()


async def test_a_call_runs_in_a_worker(pool: RenderPool) -> None:
    assert await pool.run("body", len, "abc") == 3


async def test_a_call_past_its_time_is_invalid_input_and_the_pool_recovers(
    pool: RenderPool,
) -> None:
    await pool.run("body", len, "warm")
    started = time.monotonic()
    with pytest.raises(InvalidInput) as caught:
        await pool.run("body", time.sleep, 60)
    assert time.monotonic() - started < 15
    assert "takes longer" in caught.value.errors["body"]
    assert await pool.run("body", len, "again") == 5


async def test_a_call_past_its_memory_is_invalid_input_and_the_pool_recovers(
    pool: RenderPool,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await pool.run("body_text", bytearray, 2 * 1024 * 1024 * 1024)
    assert caught.value.errors == {"body_text": "needs too much memory to render"}
    assert await pool.run("body", len, "again") == 5
