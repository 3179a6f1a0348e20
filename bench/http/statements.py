"""What one request costs in round trips: SQL statements (and transactions) and Redis round
trips per sign-up and per one-click unsubscribe, counted in-process on the real app.

Used by bench/http/run.py before its wrk runs (the counts go into the result files), and on
its own: ``python -m bench.http.statements`` (same database and Redis options; the database is
created again, as by the benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import asyncpg.transaction
import httpx
from litestar.testing import AsyncTestClient
from redis.asyncio.connection import AbstractConnection
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from shared.links import sign_unsubscribe
from shared.settings import Settings
from shared.tokens import TokenSigner

REQUESTS = 20


@contextmanager
def counting_redis() -> Iterator[Counter[str]]:
    """Count packets sent to Redis (one per command, one per pipeline) while the block runs."""
    counts: Counter[str] = Counter()
    original = AbstractConnection.send_packed_command

    async def send(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        counts["redis"] += 1
        await original(self, command, check_health)

    AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


@contextmanager
def counting_database(engine: AsyncEngine) -> Iterator[Counter[str]]:
    """Count SQL statements and transactions on ``engine`` while the block runs: those run
    through SQLAlchemy (its events) and those run on asyncpg directly (queries/driver.py),
    where a statement outside a transaction is one of its own."""
    counts: Counter[str] = Counter()

    def on_execute(*_args: Any) -> None:
        counts["statements"] += 1

    def on_begin(*_args: Any) -> None:
        # On PostgreSQL every BEGIN, SQLAlchemy's too, is the driver's (counted below).
        if engine.dialect.name != "postgresql":
            counts["transactions"] += 1

    original_execute = asyncpg.Connection._execute
    original_start = asyncpg.transaction.Transaction.start

    async def driver_execute(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        counts["statements"] += 1
        if not self.is_in_transaction():
            counts["transactions"] += 1
        return await original_execute(self, *args, **kwargs)

    async def driver_begin(self: asyncpg.transaction.Transaction) -> None:
        counts["transactions"] += 1
        await original_start(self)

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    event.listen(engine.sync_engine, "begin", on_begin)
    asyncpg.Connection._execute = driver_execute
    asyncpg.transaction.Transaction.start = driver_begin
    try:
        yield counts
    finally:
        asyncpg.Connection._execute = original_execute
        asyncpg.transaction.Transaction.start = original_start
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
        event.remove(engine.sync_engine, "begin", on_begin)


async def count_round_trips(
    settings: Settings, list_id: int, unsubscribe_keys: list[str], prefix: str
) -> dict[str, dict[str, float]]:
    """Per request of each endpoint: SQL statements, transactions (BEGIN) and Redis trips."""
    app = create_app(settings)
    signer = TokenSigner(settings.secret_keys, {})
    results: dict[str, dict[str, float]] = {}
    async with AsyncTestClient(app) as client:
        engine = app.state.engine
        # The first request of each kind fills caches (sites, custom fields, statement cache).
        tokens = [sign_unsubscribe(signer, key, 1, [list_id]) for key in unsubscribe_keys]
        kinds: dict[str, Callable[[int], Awaitable[httpx.Response]]] = {
            "subscribe-form": lambda n: client.post(
                "/subscribe",
                data={
                    "email": f"{prefix}-form-{n}@example.org",
                    "lists": "nyheder",
                    "language": "da",
                    "consent": "on",
                },
            ),
            "subscribe-json": lambda n: client.post(
                "/subscribe",
                json={
                    "email": f"{prefix}-json-{n}@example.org",
                    "lists": ["nyheder"],
                    "language": "da",
                    "consent": True,
                },
            ),
            "unsubscribe": lambda n: client.post(
                f"/unsubscribe/{tokens[n]}", data={"List-Unsubscribe": "One-Click"}
            ),
        }
        for name, send in kinds.items():
            await send(0)
            with counting_database(engine) as sql, counting_redis() as trips:
                for n in range(1, REQUESTS + 1):
                    response = await send(n)
                    if response.status_code >= 400:
                        raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")
            results[name] = {
                "SQL statements": sql["statements"] / REQUESTS,
                "transactions": sql["transactions"] / REQUESTS,
                "Redis round trips": trips["redis"] / REQUESTS,
            }
    return results


def settings_for(database_url: str, redis_url: str, secret: str) -> Settings:
    """The service's settings as the benchmark serves it."""
    return Settings.from_env(
        {
            "BREVDUE_DATABASE_URL": database_url,
            "BREVDUE_REDIS_URL": redis_url,
            "BREVDUE_SECRET_KEYS": secret,
            "BREVDUE_SIGNUP_LIMIT_PER_IP": "1000000000",
            "BREVDUE_SIGNUP_MIN_DURATION": "0",
            # Counting, not watching: the wrk runs' servers log at INFO as configured.
            "BREVDUE_LOG_LEVEL": "WARNING",
        }
    )


def main() -> None:
    """Create the database, count and print."""
    from bench.http import run

    parser = argparse.ArgumentParser(prog="python -m bench.http.statements")
    parser.add_argument("--database-url", default=run.DEFAULT_DATABASE)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    list_id = asyncio.run(run.prepare_database(args.database_url))
    keys = asyncio.run(run.seed_subscribers(args.database_url, list_id, "count", REQUESTS + 1))
    settings = settings_for(args.database_url, args.redis_url, run.SECRET)
    counts = asyncio.run(count_round_trips(settings, list_id, keys, "count"))
    for name, figures in counts.items():
        print(f"{name:<15} " + ", ".join(f"{k} {v:g}" for k, v in figures.items()))
    run.flush_queue(args.redis_url)


if __name__ == "__main__":
    main()
