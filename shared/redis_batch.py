"""Redis commands of concurrent requests sent together, one round trip for all.

A web process answers many requests at once, and most of them send Redis a command or two of
their own: a rate-limit script, an enqueue, an event. Each command alone costs a round trip,
and on a small host the write and the wake-up of that round trip cost more CPU than the command
itself (bench/http: a third of a sign-up's time was spent in the sockets' send calls). Here the
commands asked for during one turn of the event loop are sent together, as one pipeline (no
MULTI: each stays independent, as if it had been sent alone), by a task of their own that
starts on the loop's next turn; each caller gets its own reply or error. Under load one round
trip carries the commands of several requests; a command alone goes on the next turn.

Nothing else changes for a caller: it waits until its command has run and gets its reply, or
the exception its command raised (a Redis error reply is that command's alone; a lost
connection fails the whole batch, as it would each command). A caller that stops waiting (a
timeout) leaves the batch to the others; once every caller of a batch has stopped waiting, the
batch is stopped too, as a lone cancelled call would be (redis-py then drops the connection),
so a hung connection holds up only the calls that were on it.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT


class _Batch:
    """Commands to be sent in one round trip, their callers' replies, and the sending task."""

    def __init__(self, redis: Redis) -> None:
        self.commands: list[tuple[EncodableT, ...]] = []
        self.replies: list[asyncio.Future[Any]] = []
        self.closed = False  # being sent: later commands go into a new batch
        self._task = asyncio.get_running_loop().create_task(self._send(redis))

    def open_on(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether commands of ``loop`` may still join this batch."""
        return not self.closed and self._task.get_loop() is loop

    def add(self, args: tuple[EncodableT, ...]) -> asyncio.Future[Any]:
        reply: asyncio.Future[Any] = self._task.get_loop().create_future()
        reply.add_done_callback(self._stop_if_abandoned)
        self.commands.append(args)
        self.replies.append(reply)
        return reply

    def _stop_if_abandoned(self, _reply: asyncio.Future[Any]) -> None:
        if self.closed and not self._task.done() and all(r.done() for r in self.replies):
            self._task.cancel()

    async def _send(self, redis: Redis) -> None:
        self.closed = True
        replies: list[Any]
        try:
            if len(self.commands) == 1:
                replies = [await redis.execute_command(*self.commands[0])]  # type: ignore[no-untyped-call]
            else:
                pipe = redis.pipeline(transaction=False)
                for args in self.commands:
                    pipe.execute_command(*args)
                # A command's error reply comes back in its place, not raised.
                replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            for reply in self.replies:
                reply.cancel()
            raise
        except Exception as exc:  # every kind: each caller gets what its command would have
            for reply in self.replies:
                if not reply.done():
                    reply.set_exception(exc)
            return
        for reply, value in zip(self.replies, replies, strict=True):
            if reply.done():  # its caller stopped waiting
                continue
            if isinstance(value, Exception):
                reply.set_exception(value)
            else:
                reply.set_result(value)


# The batch still open for each client (and each event loop: tests run several).
_OPEN: weakref.WeakKeyDictionary[Redis, _Batch] = weakref.WeakKeyDictionary()


async def execute(redis: Redis, *args: EncodableT) -> Any:
    """Run one command (``"EVALSHA", sha, 1, key, …``) on ``redis`` and return its reply,
    in one round trip with the commands other tasks ask for in the same turn of the loop."""
    batch = _OPEN.get(redis)
    if batch is None or not batch.open_on(asyncio.get_running_loop()):
        batch = _OPEN[redis] = _Batch(redis)
    return await batch.add(args)
