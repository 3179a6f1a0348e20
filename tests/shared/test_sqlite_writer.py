"""SQLite's writer thread: one transaction per call, on one thread, rolled back when it fails."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.db import SqliteWriter, create_engine, sqlite_writer


def _count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one())


def _insert(conn: sa.Connection, value: int, *, fail: bool = False) -> str:
    conn.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
    if fail:
        raise RuntimeError("after the insert")
    return threading.current_thread().name


async def test_each_call_is_one_transaction_on_the_writer_thread(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (v INTEGER)"))
    writer = SqliteWriter(url)
    try:
        names = {await writer.run(_insert, value) for value in range(3)}
        assert len(names) == 1
        assert names.pop().startswith("sqlite-writer")
        with pytest.raises(RuntimeError):
            await writer.run(_insert, 99, fail=True)
        assert await writer.run(_count) == 3  # the failed call's insert was rolled back
        async with engine.connect() as conn:  # committed: other connections see the rows
            assert (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar_one() == 3
    finally:
        await writer.close()
        await engine.dispose()


def test_only_an_sqlite_file_gets_a_writer(tmp_path: Path) -> None:
    assert sqlite_writer("postgresql+asyncpg://postgres@127.0.0.1/x") is None
    assert sqlite_writer("sqlite+aiosqlite:///:memory:") is None
    assert isinstance(sqlite_writer(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"), SqliteWriter)
