"""Refusals on the embed page stay inside the site's frame: framable by the site's origins and
readable, never the app-wide page that forbids framing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from shared.settings import Settings
from tests.subscriptions.conftest import all_subscribers
from tests.subscriptions.member_sites import seed_member_site

SITE_ORIGIN = "https://malmo.example"
FORM = {"email": "maja@example.org", "lists": "kultur", "consent": "on", "language": "sv"}


def framable_by_the_site(response: httpx.Response) -> bool:
    csp = response.headers["content-security-policy"]
    return f"frame-ancestors {SITE_ORIGIN};" in csp and "x-frame-options" not in response.headers


async def test_rate_limited_embed_sign_up_is_a_framable_page(
    settings: Settings, live_server: Any, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", origins=[SITE_ORIGIN])
    app = create_app(replace(settings, signup_limit_per_ip=1, signup_min_duration=0.0))

    async with live_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        first = await client.post("/embed/malmo-bibliotek?lang=sv", data=FORM)
        second = await client.post(
            "/embed/malmo-bibliotek?lang=sv", data={**FORM, "email": "ola@example.org"}
        )

    assert first.status_code == 303
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) > 0
    assert framable_by_the_site(second)
    assert "text/html" in second.headers["content-type"]
    assert '<html lang="sv">' in second.text
    assert "För många försök" in second.text
    assert 'href="/embed/malmo-bibliotek?lang=sv"' in second.text
    assert len(await all_subscribers(engine)) == 1


async def test_oversized_and_unreadable_embed_posts_are_framable_pages(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", origins=[SITE_ORIGIN])

    too_big = await client.post(
        "/embed/malmo-bibliotek?lang=en", data={**FORM, "name": "x" * 40_000}
    )
    wrong_type = await client.post(
        "/embed/malmo-bibliotek?lang=en",
        content=b"<xml/>",
        headers={"Content-Type": "application/xml"},
    )

    assert too_big.status_code == 413
    assert framable_by_the_site(too_big)
    assert "Too much data" in too_big.text
    assert wrong_type.status_code == 415
    assert framable_by_the_site(wrong_type)
    assert await all_subscribers(engine) == []
