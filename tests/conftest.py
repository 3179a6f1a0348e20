"""Fixtures over real infrastructure: Redis, SQLite/PostgreSQL, an aiosmtpd server, HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from brevdue_cli.redis_server import free_port, is_reachable, start_local_redis
from shared.db import create_engine
from shared.migrate import upgrade
from shared.schema import metadata
from shared.settings import Secret, Settings, SmtpSettings
from tests.support.smtp import RecordingSMTPServer

TEST_SECRET = Secret("test-secret-key-not-for-production")


# --- Redis -------------------------------------------------------------------------------


# Under pytest-xdist every worker process gets its own Redis database and PostgreSQL database,
# so that one worker's flush or TRUNCATE never hits another's test.
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def _worker_redis_url(url: str) -> str:
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base - WORKER) % 16}"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """BREVDUE_TEST_REDIS_URL, else a local Redis on 6379 (db 15), else one started here.

    Worker N of a parallel run uses the database N below the one named.
    """
    configured = os.environ.get("BREVDUE_TEST_REDIS_URL")
    if configured:
        yield _worker_redis_url(configured)
        return
    default = "redis://127.0.0.1:6379/15"
    if is_reachable(default):
        yield _worker_redis_url(default)
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
    url = make_url(POSTGRES_URL)
    if WORKER:
        url = url.set(database=f"{url.database}_w{WORKER}")
    database_url = url.render_as_string(hide_password=False)

    async def reset() -> None:
        if WORKER:
            # The named database's server hosts one more database per extra worker.
            admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            async with admin.connect() as conn:
                exists = await conn.scalar(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                    {"name": url.database},
                )
                if not exists:
                    await conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
            await admin.dispose()
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())
    upgrade(database_url)
    return database_url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``one_database`` run on PostgreSQL when it is configured, else on SQLite.

    The rest of the suite proves every query on both engines; the browser tests look at pages,
    and running each twice would double the suite's slowest part for no new finding.
    """
    other = "sqlite" if POSTGRES_URL else "postgresql"
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.get_closest_marker("one_database") and params.get("database_url") == other:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    postgres_migrated: str | None,
) -> AsyncIterator[str]:
    """A migrated, empty database: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        # One path per worker, a fresh copy each test: the same settings from test to test let
        # the apps built for them be reused (see app_for). The old file is unlinked, not
        # overwritten, so nothing still holding it open can write into the new one.
        path = sqlite_template.parent / f"brevdue-{WORKER}.db"
        for leftover in (path, *(path.with_name(path.name + s) for s in SQLITE_SIDE_FILES)):
            leftover.unlink(missing_ok=True)
        copy = path.with_name(path.name + ".new")
        shutil.copy(sqlite_template, copy)
        copy.replace(path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    if postgres_migrated is None:
        pytest.skip("PostgreSQL: set BREVDUE_TEST_DATABASE_URL to run")
    engine = create_engine(postgres_migrated)
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        # One round trip of plain DELETEs (children first) and sequences set back to 1: on
        # tables a test left nearly empty this takes a few milliseconds, where TRUNCATE, which
        # gives every table a new file, took 0.3–0.7 s per test.
        await raw.driver_connection.execute(EMPTY_POSTGRES)  # type: ignore[union-attr]
    await engine.dispose()
    yield postgres_migrated


EMPTY_POSTGRES = (
    "".join(f'DELETE FROM "{table.name}";' for table in reversed(metadata.sorted_tables))
    + "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c WHERE c.relkind = 'S';"
)


SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


# --- Apps ----------------------------------------------------------------------------------

# Building the staff app registers some 250 route handlers (Litestar parses every signature):
# 0.3–1.6 s here, more than most tests take. An app holds nothing of a test's own (engines,
# pools and readers are opened by its lifespan, each time it is served), so one is built per
# factory and settings and served again to the next test with the same settings.
_APPS: dict[tuple[Callable[[Settings], Any], Settings], Any] = {}


def app_for(factory: Callable[[Settings], Any], settings: Settings) -> Any:
    """``factory(settings)``, built once per worker for equal settings."""
    key = (factory, settings)
    if key not in _APPS:
        if len(_APPS) > 16:
            _APPS.clear()
        _APPS[key] = factory(settings)
    return _APPS[key]


# --- SMTP --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _running_smtp_server() -> Iterator[RecordingSMTPServer]:
    server = RecordingSMTPServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(_running_smtp_server: RecordingSMTPServer) -> RecordingSMTPServer:
    """A real aiosmtpd server that records every message it accepts; empty for each test.

    One server serves the whole run (starting one costs more than most tests); each test gets
    it with no recorded messages and no scripted refusals.
    """
    handler = _running_smtp_server.handler
    with handler.lock:
        handler.messages.clear()
    handler.fail_rcpt = {}
    handler.fail_once = set()
    return _running_smtp_server


# --- Settings and HTTP -------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, redis_url: str, smtp_server: RecordingSMTPServer) -> Settings:
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
        # The answer-time floor that hides an address's state is tested on its own
        # (test_abuse_timing); everywhere else it would only make the suite slower.
        signup_min_duration=0.0,
    )


class LiveServer:
    """An ASGI app served by uvicorn on a real port inside the test's event loop."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        # Bound here and handed to uvicorn: a port only chosen here (free_port) could be taken
        # by another worker's connection before uvicorn bound it, which failed the test and,
        # with it, every later test of that worker.
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port or 0))
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveServer:
        self._task = asyncio.create_task(self.server.serve(sockets=[self._socket]))
        while not self.server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        try:
            if self._task is not None:
                await self._task
        finally:
            self._socket.close()


# --- Browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def _running_chromium() -> AsyncIterator[Any]:
    """Headless Debian Chromium, launched once per worker: starting Playwright's driver and the
    browser cost more CPU than most browser tests. The browser tests skip without either."""
    from playwright.async_api import async_playwright

    from tests.subscriptions.test_browser import CHROMIUM, CHROMIUM_ARGS

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest.fixture
async def chromium(_running_chromium: Any) -> AsyncIterator[Any]:
    """The worker's Chromium; every context a test opened (pages, cookies, storage) is closed
    after it, so nothing carries over to the next test and no page keeps running."""
    yield _running_chromium
    for context in list(_running_chromium.contexts):
        await context.close()


# httpx loads the whole CA bundle for every client it makes (tens of milliseconds of CPU, more
# than many a test's requests): the fixtures' clients, plain HTTP to local servers, share one.
CLIENT_TLS = httpx.create_ssl_context()


@pytest.fixture
def live_server() -> type[LiveServer]:
    """``async with live_server(app) as server:`` serves ``app`` at ``server.url``."""
    return LiveServer
