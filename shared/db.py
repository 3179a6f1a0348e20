"""Database engine and session set-up for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = [
    "AsyncSession",
    "SqliteWriter",
    "create_engine",
    "create_sessionmaker",
    "create_web_engine",
    "is_sqlite",
    "sqlite_writer",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")


def is_sqlite(database_url: str) -> bool:
    """True when the URL names an SQLite database."""
    return make_url(database_url).get_backend_name() == "sqlite"


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout for several processes."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def create_web_engine(database_url: str) -> AsyncEngine:
    """``create_engine`` for a web process: on PostgreSQL a fixed pool of ``WEB_POOL_SIZE``.

    Hundreds of concurrent requests share it, each holding a connection only for its own
    transaction (a few milliseconds). With an overflow above a smaller pool, every connection
    returned while the pool was full was closed and soon opened again: a new server process,
    and every statement prepared anew on it.
    """
    if is_sqlite(database_url):
        return create_engine(database_url)
    return create_engine(database_url, pool_size=WEB_POOL_SIZE, max_overflow=0)


# Per web process; keep (processes of every service) x this under PostgreSQL's max_connections.
WEB_POOL_SIZE = 20


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Hand out no pooled connection the server has closed (a restart, a terminated session):
    the pool then opens a new one. This is what ``pool_pre_ping`` is for, without its three
    round trips (BEGIN, a ping, ROLLBACK on asyncpg) before every transaction; asyncpg sees
    the closed socket as soon as the event loop reads it."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def _sha256_hex(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # PostgreSQL's sha256() has no SQLite builtin: the same digest as hex text, so that a
    # statement can derive a value (a Message-ID) in the database on both.
    dbapi_connection.create_function("sha256_hex", 1, _sha256_hex, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqliteWriter:
    """Write transactions on an SQLite file, each run whole in one hop to a thread of its own.

    SQLite lets one connection write at a time, and a transaction holds that lock from its
    first write to its commit. Through aiosqlite each statement, fetch, cursor close and commit
    is a hop to the connection's thread and back through the event loop, so a loop busy with
    rendering stretched the hold to tens of milliseconds, and the other connections (eight
    batches per process, two processes) slept in SQLite's busy handler meanwhile (1, 2, 5 … up
    to 100 ms per try): half of a chunk's time was spent waiting for the lock. Here the lock is
    held only while SQLite works, and one process's writes queue on its one thread instead of
    sleeping against each other. Same statements, same transactions: only the thread changes.
    """

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="sqlite")
        self._engine = sa.create_engine(
            url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0
        )
        event.listen(self._engine, "connect", _sqlite_pragmas)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")

    async def run(
        self,
        work: Callable[Concatenate[sa.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """``work(conn, *args, **kwargs)`` in one transaction on the writer thread."""
        transaction = functools.partial(self._transaction, work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)

    def _transaction(
        self, work: Callable[Concatenate[sa.Connection, _P], _T], *args: Any, **kwargs: Any
    ) -> _T:
        with self._engine.begin() as conn:
            return work(conn, *args, **kwargs)

    async def close(self) -> None:
        """Close the connection once the transactions queued before have run."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=False)


def sqlite_writer(database_url: str) -> SqliteWriter | None:
    """A ``SqliteWriter`` for an SQLite file; None for PostgreSQL (and for an in-memory
    database, which another connection would not see)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return SqliteWriter(database_url)


def conflict_insert(dialect_name: str, table: sa.Table) -> Any:
    """An INSERT of the dialect that can take ON CONFLICT DO NOTHING / DO UPDATE (SQLAlchemy
    Core has these per dialect only)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


# Errors of the statement itself (wrong SQL, a broken constraint): bugs, worth a 500.
_STATEMENT_FAULTS = (ProgrammingError, IntegrityError, DataError, NotSupportedError)


def database_unreachable(exc: BaseException) -> bool:
    """True for a driver error that says the database is away (shutting down, starting up,
    the connection lost mid-statement), which a client may retry, rather than a bad statement.

    asyncpg's "the database system is shutting down" and "connection was closed in the middle
    of operation" reach SQLAlchemy as a bare ``DBAPIError`` (or ``InternalError``), not as an
    ``OperationalError``.
    """
    return isinstance(exc, DBAPIError) and not isinstance(exc, _STATEMENT_FAULTS)
