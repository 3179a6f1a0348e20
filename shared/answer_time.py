"""An answer-time floor for answers that must not tell whether an address is known."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def minimum_duration(seconds: float) -> AsyncIterator[None]:
    """Finish the block no sooner than ``seconds`` after it began (not when it raises), so
    quick and slow paths (an unknown address, a known one that gets mail) look alike from
    outside."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    yield
    remaining = deadline - loop.time()
    if remaining > 0:
        await asyncio.sleep(remaining)
