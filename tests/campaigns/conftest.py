"""Fixtures for the campaigns service: the app over real HTTP, tokens, demo lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.admin import seed_demo
from services.campaigns.app import create_app
from services.campaigns.auth import issue_token
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings
from tests.conftest import CLIENT_TLS, app_for


class Api:
    """An httpx client on the live app plus one token per role."""

    def __init__(self, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def get(self, url: str, role: str = "viewer", **kwargs: Any) -> httpx.Response:
        return await self.client.get(url, headers=self.headers(role), **kwargs)

    async def post(self, url: str, role: str = "editor", **kwargs: Any) -> httpx.Response:
        return await self.client.post(url, headers=self.headers(role), **kwargs)

    async def patch(self, url: str, role: str = "editor", **kwargs: Any) -> httpx.Response:
        return await self.client.patch(url, headers=self.headers(role), **kwargs)

    async def delete(self, url: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        return await self.client.delete(url, headers=self.headers(role), **kwargs)


@pytest.fixture
async def api(settings: Settings, live_server: Any, redis: Redis) -> AsyncIterator[Api]:
    """The campaigns app on a real port, demo lists seeded, tokens for every role."""
    await seed_demo(settings)
    # The three tokens over one engine: an engine each (as create_token makes) cost a new
    # database connection each, in every test that uses the API.
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        tokens = {
            role: await issue_token(session, role, f"test {role}")
            for role in ("viewer", "editor", "admin")
        }
    await engine.dispose()
    async with (
        live_server(app_for(create_app, settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20, verify=CLIENT_TLS) as client,
    ):
        yield Api(client, tokens)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database, for arranging and inspecting rows directly."""
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()


CAMPAIGN = {
    "subject": "Nyt fra {{ campaign.subject or 'Kulturhuset' }}",
    "body": '<p>Hej {{ subscriber.name }}</p>\n<a href="{{ unsubscribe_url }}">Afmeld</a>',
    "body_text": "Hej {{ subscriber.name }}\nAfmeld: {{ unsubscribe_url }}",
    "lists": ["kultur"],
}


async def new_campaign(api: Api, **changes: Any) -> dict[str, Any]:
    """Create a campaign through the API and return its JSON."""
    response = await api.post("/api/campaigns", json={**CAMPAIGN, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
