"""Fixtures over real infrastructure: Redis, SQLite/PostgreSQL, an aiosmtpd server, HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port, is_reachable, start_local_redis
from shared.db import create_engine
from shared.migrate import upgrade
from shared.schema import metadata
from shared.settings import Secret, Settings, SmtpSettings
from tests.support.smtp import RecordingSMTPServer

TEST_SECRET = Secret("test-secret-key-not-for-production")


# --- Redis -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """BREVDUE_TEST_REDIS_URL, else a local Redis on 6379 (db 15), else one started here."""
    configured = os.environ.get("BREVDUE_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    default = "redis://127.0.0.1:6379/15"
    if is_reachable(default):
        yield default
        return
    server = start_local_redis(data_dir=None)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client on a flushed test database."""
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


# --- Databases ---------------------------------------------------------------------------

POSTGRES_URL = os.environ.get("BREVDUE_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str | None:
    """The PostgreSQL test database, emptied and migrated once per run."""
    if not POSTGRES_URL:
        return None

    async def reset() -> None:
        engine = create_engine(POSTGRES_URL)
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())
    upgrade(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_migrated: str | None,
) -> AsyncIterator[str]:
    """A migrated, empty database: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "brevdue.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    if postgres_migrated is None:
        pytest.skip("PostgreSQL: set BREVDUE_TEST_DATABASE_URL to run")
    engine = create_engine(postgres_migrated)
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    yield postgres_migrated


# --- SMTP --------------------------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[RecordingSMTPServer]:
    """A real aiosmtpd server on a free port that records every message it accepts."""
    server = RecordingSMTPServer(port=free_port())
    server.start()
    yield server
    server.stop()


# --- Settings and HTTP -------------------------------------------------------------------


@pytest.fixture
def settings(
    database_url: str, redis_url: str, smtp_server: RecordingSMTPServer
) -> Settings:
    """Settings wired to this test's database, Redis and SMTP server."""
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_server.port, timeout=10),
        secret_keys=(TEST_SECRET,),
        subscriptions_public_url="http://subscriptions.test",
        campaigns_public_url="http://campaigns.test",
        mail_from="KulturMetropolØresund <nyhedsbrev@kultur.test>",
        log_format="console",
        log_level="WARNING",
    )


class LiveServer:
    """An ASGI app served by uvicorn on a real port inside the test's event loop."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveServer:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task


@pytest.fixture
def live_server() -> type[LiveServer]:
    """``async with live_server(app) as server:`` serves ``app`` at ``server.url``."""
    return LiveServer
