"""Enumeration: the answers that take an address (a resident's sign-up, a staff password
reset) are the same whatever the address's state, and take as long: every answer takes at
least the documented floor (``BREVDUE_SIGNUP_MIN_DURATION``), and the medians of the states
stay within that floor of each other.

Answer times are compared as distributions (medians of interleaved rounds), so a busy machine
slows every state alike instead of failing the test. One database: the answers wait out the
floor, and the states' queries are proven on both engines by the services' own tests.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.app import create_app as create_campaigns_app
from services.subscriptions.app import create_app as create_subscriptions_app
from shared.addresses import address_digest
from shared.db import create_engine
from shared.queues import TRANSACTIONAL_QUEUE
from shared.schema import staff_users, subscribers, subscriptions, suppressions
from shared.settings import Settings
from tests.campaigns.staff_support import create_staff, csrf_token

pytestmark = [pytest.mark.one_database, pytest.mark.timing]

ROUNDS = 7
FLOOR = Settings.signup_min_duration
CSRF = re.compile(r'value="[^"]+" name="_csrf_token"|name="_csrf_token" value="[^"]+"')

Ask = Callable[[str], Awaitable[httpx.Response]]


async def _answers(ask: Ask, addresses: dict[str, Callable[[int], str]]) -> dict[str, Any]:
    """Per state: the set of (status, body) answers and the answer times, rounds interleaved."""
    seen: dict[str, set[tuple[int, str]]] = {state: set() for state in addresses}
    times: dict[str, list[float]] = {state: [] for state in addresses}
    for n in range(ROUNDS):
        for state, address in addresses.items():
            started = time.perf_counter()
            response = await ask(address(n))
            times[state].append(time.perf_counter() - started)
            seen[state].add((response.status_code, CSRF.sub("", response.text)))
    return {"answers": seen, "times": times}


def _assert_alike(result: dict[str, Any]) -> dict[str, float]:
    answers, times = result["answers"], result["times"]
    distinct = set().union(*answers.values())
    assert len(distinct) == 1, {state: len(a) for state, a in answers.items()}
    assert all(min(samples) >= FLOOR for samples in times.values()), times
    medians = {state: statistics.median(samples) for state, samples in times.items()}
    assert max(medians.values()) - min(medians.values()) < FLOOR, medians
    return medians


async def test_sign_up_answers_alike_for_new_pending_confirmed_unsubscribed_and_suppressed(
    live_server: Any, settings: Settings, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    settings = replace(
        settings,
        signup_limit_per_ip=10_000,
        signup_limit_per_address=10_000,
        confirm_mails_per_address_per_day=10_000,
        signup_min_duration=FLOOR,
    )
    addresses = {
        "new": lambda n: f"new{n}@example.org",
        "pending": lambda n: "pending@example.org",
        "confirmed": lambda n: "confirmed@example.org",
        "unsubscribed": lambda n: f"gone{n}@example.org",
        "suppressed": lambda n: "erased@example.org",
    }
    async with (
        live_server(create_subscriptions_app(settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):

        async def sign_up(email: str) -> httpx.Response:
            body = {"email": email, "lists": ["kultur"], "language": "da", "consent": True}
            return await http.post("/subscribe", json=body)

        # Unsubscribing is undone by a sign-up, so that state needs an address per round.
        for email in ["pending@example.org", "confirmed@example.org"]:
            await sign_up(email)
        for n in range(ROUNDS):
            await sign_up(f"gone{n}@example.org")
        async with engine.begin() as conn:
            for status, pattern in (("confirmed", "confirmed@%"), ("unsubscribed", "gone%")):
                ids = sa.select(subscribers.c.id).where(subscribers.c.email.like(pattern))
                await conn.execute(
                    sa.update(subscriptions)
                    .where(subscriptions.c.subscriber_id.in_(ids))
                    .values(status=status)
                )
            await conn.execute(
                sa.insert(suppressions).values(
                    email_hash=address_digest("erased@example.org"),
                    reason="erased",
                    created_at=datetime.now(UTC),
                )
            )
        result = await _answers(sign_up, addresses)

    medians = _assert_alike(result)
    assert set(medians) == set(addresses)


async def test_password_reset_answers_alike_for_active_deactivated_and_unknown_addresses(
    live_server: Any, settings: Settings, redis: Redis
) -> None:
    settings = replace(settings, signup_min_duration=FLOOR)
    await create_staff(settings, "aktiv@kultur.test", "editor")
    await create_staff(settings, "stoppet@kultur.test", "editor")
    engine = create_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(staff_users)
            .where(staff_users.c.email == "stoppet@kultur.test")
            .values(active=False)
        )
    await engine.dispose()
    async with (
        live_server(create_campaigns_app(settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):

        async def forgot(email: str) -> httpx.Response:
            form = await http.get("/app/forgot")
            return await http.post(
                "/app/forgot", data={"email": email, "_csrf_token": csrf_token(form)}
            )

        result = await _answers(
            forgot,
            {
                "active": lambda n: "aktiv@kultur.test",
                "deactivated": lambda n: "stoppet@kultur.test",
                "unknown": lambda n: f"ingen{n}@kultur.test",
            },
        )
        # Only the active user was mailed.
        queued = await redis.zcard(TRANSACTIONAL_QUEUE)

    _assert_alike(result)
    assert queued >= 1
