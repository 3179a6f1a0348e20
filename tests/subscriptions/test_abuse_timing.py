"""Sign-ups of new, pending, confirmed and unsubscribed addresses take about as long."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from shared.schema import subscribers, subscriptions
from shared.settings import Settings

pytestmark = pytest.mark.timing

ROUNDS = 11
# Generous on purpose: the point is that no state stands out, not a benchmark.
MAX_RATIO = 2.5


async def _set_status(engine: AsyncEngine, emails: list[str], status: str) -> None:
    ids = sa.select(subscribers.c.id).where(subscribers.c.email.in_(emails))
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.subscriber_id.in_(ids))
            .values(status=status)
        )


async def test_median_latency_is_similar_for_every_state_of_an_address(
    live_server: Any, settings: Settings, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    # Limits out of the way (they are tested elsewhere); the minimum duration is the default one.
    settings = replace(
        settings,
        signup_limit_per_ip=10_000,
        signup_limit_per_address=10_000,
        signup_min_duration=Settings.signup_min_duration,
    )
    app = create_app(settings)
    async with (
        live_server(app) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):

        async def sign_up(email: str) -> tuple[float, int, bytes]:
            body = {"email": email, "lists": ["kultur"], "language": "da", "consent": True}
            started = time.perf_counter()
            response = await http.post("/subscribe", json=body)
            return time.perf_counter() - started, response.status_code, response.content

        # Unsubscribing is undone by a sign-up, so that state needs an address per round;
        # the others keep their state and "new" is new every time.
        unsubscribed = [f"gone{i}@example.org" for i in range(ROUNDS)]
        for email in [*unsubscribed, "pending@example.org", "confirmed@example.org"]:
            await sign_up(email)
        await _set_status(engine, unsubscribed, "unsubscribed")
        await _set_status(engine, ["confirmed@example.org"], "confirmed")
        await sign_up("warm-up@example.org")

        timings: dict[str, list[float]] = {s: [] for s in ("new", "pending", "confirmed", "gone")}
        answers = set()
        for i in range(ROUNDS):
            # Interleaved, so drift in the machine's load hits every state alike.
            rounds = {
                "new": f"new{i}@example.org",
                "pending": "pending@example.org",
                "confirmed": "confirmed@example.org",
                "gone": unsubscribed[i],
            }
            for state, email in rounds.items():
                seconds, status, content = await sign_up(email)
                timings[state].append(seconds)
                answers.add((status, content))

    assert len(answers) == 1 and next(iter(answers))[0] == 202
    medians = {state: statistics.median(values) for state, values in timings.items()}
    assert max(medians.values()) <= MAX_RATIO * min(medians.values()), medians
    # The floor is what makes them alike: nothing answers faster than it.
    assert min(medians.values()) >= settings.signup_min_duration, medians
