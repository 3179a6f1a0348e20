"""The driver (asyncpg) connection under a pooled SQLAlchemy connection, for the few hot
statements written as SQL text for PostgreSQL (first_signup.py, link_withdrawal.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from asyncpg.exceptions import InterfaceError, PostgresError
from sqlalchemy.ext.asyncio import AsyncEngine

# What the driver raises for a failed statement or a lost connection (OSError aside).
DRIVER_ERRORS = (PostgresError, InterfaceError)


def on_postgresql(engine: object) -> bool:
    """Whether ``engine`` (a session's bind) is an async PostgreSQL engine."""
    return isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql"


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A pooled connection's asyncpg connection, each statement its own transaction. The
    pool hands it out and takes it back as for any session; SQLAlchemy's own transaction is
    never begun on it."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None  # a checked-out connection has its driver's
        yield driver
