"""Mails asked for on the preference page count against the address's daily allowance:
past it the page answers 429 and nothing is stored or sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from shared.queues import TRANSACTIONAL_QUEUE
from shared.schema import mailing_lists
from shared.settings import Settings
from tests.subscriptions.conftest import all_subscriptions, queued_mails
from tests.subscriptions.residents import sign_up


@pytest.fixture
async def limited(
    settings: Settings, live_server: Any, redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    """The app allowing two confirmation (and two export) mails per address per day."""
    app = create_app(replace(settings, confirm_mails_per_address_per_day=2))
    async with (
        live_server(app) as server,
        httpx.AsyncClient(base_url=server.url, follow_redirects=False, timeout=10) as client,
    ):
        yield client


async def test_confirmation_mails_from_the_preference_page_are_capped(
    limited: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    resident = await sign_up(limited, redis, lists=["kultur"])  # the first mail today
    url = f"/preferences/{resident.preferences}"

    second = await limited.post(url, data={"lists": ["kultur", "musik"], "language": "da"})
    [mail] = await queued_mails(redis)
    third = await limited.post(
        url, data={"lists": ["kultur", "musik", "born"], "language": "da", "name": "Maja"}
    )

    assert second.status_code == 303
    assert mail.to == resident.email
    assert third.status_code == 429
    assert int(third.headers["retry-after"]) > 0
    assert "For mange forsøg" in third.text
    assert f'href="{url}"' in third.text
    assert len(await queued_mails(redis)) == 1
    rows = await all_subscriptions(engine)
    assert lists["born"] not in rows  # the refused save stored nothing
    assert rows[lists["musik"]]["status"] == "pending"


async def test_a_refused_save_queues_no_welcome_either(
    limited: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(mailing_lists)
            .where(mailing_lists.c.slug == "born")
            .values(double_optin=False, welcome_subject_da="Velkommen", welcome_body_da="Hej!")
        )
    resident = await sign_up(limited, redis, lists=["kultur"])  # the first mail today
    url = f"/preferences/{resident.preferences}"
    await limited.post(url, data={"lists": ["kultur", "musik"], "language": "da"})  # the second
    await limited.post(url, data={"lists": ["kultur"], "language": "da"})  # leaves musik again
    await redis.delete(TRANSACTIONAL_QUEUE)

    # Joining musik again needs a third confirmation mail; born alone would be welcomed.
    mixed = await limited.post(url, data={"lists": ["kultur", "musik", "born"], "language": "da"})

    assert mixed.status_code == 429
    assert await queued_mails(redis) == []
    assert lists["born"] not in await all_subscriptions(engine)


async def test_export_mails_are_capped(
    limited: httpx.AsyncClient, redis: Redis, lists: dict[str, int]
) -> None:
    resident = await sign_up(limited, redis)
    url = f"/preferences/{resident.preferences}/export"

    answers = [(await limited.post(url)).status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    assert len(await queued_mails(redis)) == 2
