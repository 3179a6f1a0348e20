"""Fixtures of the fault scenarios: a database on PostgreSQL, a Redis and an SMTP sink of the
scenario's own, and the processes, stopped whatever happens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.db import create_engine
from tests.conftest import EMPTY_POSTGRES
from tests.faults.harness import OwnRedis, Sink


@pytest.fixture
async def fault_database(postgres_migrated: str | None) -> AsyncIterator[str]:
    """The PostgreSQL test database, emptied: the scenarios run at PostgreSQL's scale only."""
    if postgres_migrated is None:
        pytest.skip("fault scenarios run on PostgreSQL: set BREVDUE_TEST_DATABASE_URL")
    engine = create_engine(postgres_migrated)
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute(EMPTY_POSTGRES)  # type: ignore[union-attr]
    await engine.dispose()
    yield postgres_migrated


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A Redis server for this scenario alone (AOF on), so restarting it hurts no one else."""
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sink() -> Iterator[Sink]:
    """The relay: an aiosmtpd server that counts by recipient and Message-ID."""
    server = Sink()
    server.start()
    yield server
    server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scenarios marked ``faults_long`` run only when the ``-m`` expression names them, as
    ``make test-faults`` does; ``make test`` passes a ``-m`` of its own, so addopts could not
    keep them out."""
    if "faults_long" in str(config.getoption("markexpr") or ""):
        return
    keep = [item for item in items if item.get_closest_marker("faults_long") is None]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
