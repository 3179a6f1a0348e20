"""Database engine and session set-up for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
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

__all__ = ["AsyncSession", "create_engine", "create_sessionmaker", "is_sqlite"]


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
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


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
