"""Commands of concurrent tasks share a round trip, each with its own reply or error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from brevdue_cli.redis_server import free_port
from shared import redis_batch


class CountingConnection(Connection):
    """A real connection that counts its writes: one per round trip."""

    writes = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        await super().send_packed_command(command, check_health)


@pytest.fixture
async def counted(redis: Redis, redis_url: str) -> AsyncIterator[Redis]:
    pool = ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    client = Redis(connection_pool=pool)
    await client.ping()
    CountingConnection.writes = 0
    yield client
    await client.aclose()


async def test_commands_of_one_turn_go_in_one_round_trip_each_with_its_reply(
    counted: Redis, redis: Redis
) -> None:
    replies = await asyncio.gather(
        *(redis_batch.execute(counted, "INCRBY", "batch:n", step) for step in (1, 10, 100)),
        redis_batch.execute(counted, "XADD", "batch:stream", "*", "field", b"value"),
    )
    assert replies[:3] == [1, 11, 111]  # in the order asked for, each its own reply
    assert isinstance(replies[3], bytes)
    assert CountingConnection.writes == 1
    assert await redis.get("batch:n") == b"111"
    assert [fields for _id, fields in await redis.xrange("batch:stream")] == [{b"field": b"value"}]


async def test_commands_one_after_another_each_go_at_once(counted: Redis) -> None:
    for expected in (1, 2, 3):
        assert await redis_batch.execute(counted, "INCR", "batch:alone") == expected
    assert CountingConnection.writes == 3


async def test_an_error_reply_is_raised_to_its_caller_only(counted: Redis, redis: Redis) -> None:
    await redis.set("batch:text", "not a number")
    outcomes: tuple[Any, ...] = await asyncio.gather(
        redis_batch.execute(counted, "INCR", "batch:count"),
        redis_batch.execute(counted, "INCR", "batch:text"),
        redis_batch.execute(counted, "EVALSHA", "0" * 40, 0),
        return_exceptions=True,
    )
    incremented, wrong_type, unknown_script = outcomes
    assert incremented == 1
    assert isinstance(wrong_type, ResponseError) and "not an integer" in str(wrong_type)
    assert isinstance(unknown_script, NoScriptError)
    assert CountingConnection.writes == 1


async def test_an_unreachable_redis_fails_every_caller_of_the_batch() -> None:
    refused = Redis(host="127.0.0.1", port=free_port())
    try:
        outcomes = await asyncio.gather(
            *(redis_batch.execute(refused, "INCR", "batch:x") for _ in range(3)),
            return_exceptions=True,
        )
    finally:
        await refused.aclose()
    assert all(isinstance(outcome, RedisConnectionError) for outcome in outcomes), outcomes


async def test_a_hung_connection_holds_up_only_the_calls_that_were_on_it(redis_url: str) -> None:
    """Callers that give up stop their batch; the next commands go on a new connection.

    The hang here is in the connection's set-up (its SELECT is never answered), which holds
    redis-py's pool lock: unless the batch stops, no other connection can be taken at all."""
    answering = asyncio.Event()
    real = urlsplit(redis_url)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The first connection is swallowed (a hung Redis); later ones reach the real one.
        if not answering.is_set():
            answering.set()
            await reader.read()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(real.hostname, real.port)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Redis.from_url(f"redis://127.0.0.1:{port}{real.path}")
    try:
        hung = [
            asyncio.create_task(redis_batch.execute(client, "INCR", "batch:hung")) for _ in range(2)
        ]
        await asyncio.wait_for(answering.wait(), 5)
        await asyncio.sleep(0.05)
        for task in hung:
            task.cancel()
        await asyncio.gather(*hung, return_exceptions=True)
        # The stopped batch gave its connection up; a new command gets through at once.
        reply = await asyncio.wait_for(redis_batch.execute(client, "INCR", "batch:next"), 5)
    finally:
        await client.aclose()
        server.close()
    assert reply == 1
    assert all(task.cancelled() for task in hung)


async def test_a_caller_that_stops_waiting_leaves_the_others_their_replies(
    counted: Redis,
) -> None:
    gives_up = asyncio.create_task(redis_batch.execute(counted, "INCR", "batch:a"))
    waits = asyncio.create_task(redis_batch.execute(counted, "INCR", "batch:b"))
    await asyncio.sleep(0)  # both asked in this turn; the batch goes in the next
    gives_up.cancel()
    assert await waits == 1
    assert gives_up.cancelled()
