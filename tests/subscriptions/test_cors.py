"""Cross-origin rules over HTTP: only a site's allowed origins may make the widget's JSON calls."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.sites import SiteDirectory
from shared.db import create_sessionmaker
from tests.subscriptions.conftest import all_subscribers, queued_mails, subscribe_json
from tests.subscriptions.member_sites import seed_member_site

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database

SITE_ORIGIN = "https://malmo.example"
OTHER_SITE_ORIGIN = "https://lund.example"
STRANGER = "https://evil.example"


async def seed_two_sites(engine: AsyncEngine) -> int:
    """Two sites with their own origins; returns the first one's id."""
    site_id = await seed_member_site(engine, "malmo-bibliotek", origins=[SITE_ORIGIN])
    await seed_member_site(engine, "lund-konsthall", origins=[OTHER_SITE_ORIGIN])
    return site_id


async def test_preflight_from_an_allowed_origin_is_granted(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await seed_two_sites(engine)

    response = await client.options(
        "/subscribe",
        headers={
            "Origin": SITE_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Content-Type" in response.headers["access-control-allow-headers"]
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers


async def test_preflight_from_another_origin_gets_no_grant(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await seed_two_sites(engine)

    for path in ("/subscribe", "/api/sites/malmo-bibliotek/form"):
        response = await client.options(
            path, headers={"Origin": STRANGER, "Access-Control-Request-Method": "POST"}
        )
        assert response.status_code == 204
        assert "access-control-allow-origin" not in response.headers
        assert "Origin" in response.headers["vary"]


async def test_form_preflight_is_per_site(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    await seed_two_sites(engine)
    headers = {"Access-Control-Request-Method": "GET"}

    own = await client.options(
        "/api/sites/malmo-bibliotek/form", headers={**headers, "Origin": SITE_ORIGIN}
    )
    other = await client.options(
        "/api/sites/malmo-bibliotek/form", headers={**headers, "Origin": OTHER_SITE_ORIGIN}
    )

    assert own.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert "access-control-allow-origin" not in other.headers


async def test_json_sign_up_from_the_site_origin_is_readable_there(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    site_id = await seed_two_sites(engine)

    response = await client.post(
        "/subscribe",
        json={
            "email": "maja@example.org",
            "lists": ["kultur"],
            "consent": True,
            "site": "malmo-bibliotek",
        },
        headers={"Origin": SITE_ORIGIN},
    )

    assert response.status_code == 202
    assert response.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert "Origin" in response.headers["vary"]
    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] == site_id


async def test_field_errors_reach_the_widget_on_the_site_origin(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_two_sites(engine)

    response = await client.post(
        "/subscribe",
        json={"email": "nope", "lists": ["kultur"], "site": "malmo-bibliotek"},
        headers={"Origin": SITE_ORIGIN},
    )

    assert response.status_code == 422
    assert response.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert set(response.json()["errors"]) == {"email", "consent"}


async def test_json_sign_up_from_a_stranger_or_another_sites_origin_is_refused(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    await seed_two_sites(engine)
    body = {
        "email": "maja@example.org",
        "lists": ["kultur"],
        "language": "da",
        "consent": True,
        "site": "malmo-bibliotek",
    }

    for origin in (STRANGER, OTHER_SITE_ORIGIN, "null"):
        response = await client.post("/subscribe", json=body, headers={"Origin": origin})
        assert response.status_code == 403, origin
        assert response.json() == {
            "error": 403,
            "detail": "Requests from this origin are not accepted here.",
        }
        assert "access-control-allow-origin" not in response.headers
    without_site = await client.post(
        "/subscribe", json={**body, "site": None}, headers={"Origin": SITE_ORIGIN}
    )
    assert without_site.status_code == 403
    assert await all_subscribers(engine) == []
    assert await queued_mails(redis) == []


async def test_same_origin_and_server_side_json_calls_need_no_grant(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    same_origin = await subscribe_json(client, email="a@example.org")
    public_origin = await client.post(
        "/subscribe",
        json={"email": "b@example.org", "lists": ["kultur"], "language": "da", "consent": True},
        headers={"Origin": "http://subscriptions.test"},
    )
    own_host = await client.post(
        "/subscribe",
        json={"email": "c@example.org", "lists": ["kultur"], "language": "da", "consent": True},
        headers={"Origin": str(client.base_url).rstrip("/")},
    )

    assert same_origin.status_code == 202
    assert public_origin.status_code == 202
    assert own_host.status_code == 202
    assert "access-control-allow-origin" not in own_host.headers
    assert len(await all_subscribers(engine)) == 3


async def test_plain_form_posts_work_from_any_page(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_two_sites(engine)
    form = {"email": "maja@example.org", "lists": "kultur", "consent": "true"}

    response = await client.post(
        "/subscribe", data={**form, "site": "malmo-bibliotek"}, headers={"Origin": STRANGER}
    )

    assert response.status_code == 303
    assert len(await all_subscribers(engine)) == 1


async def test_site_form_is_readable_only_by_the_sites_origins(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_two_sites(engine)

    own = await client.get("/api/sites/malmo-bibliotek/form", headers={"Origin": SITE_ORIGIN})
    stranger = await client.get("/api/sites/malmo-bibliotek/form", headers={"Origin": STRANGER})
    challenge = await client.get(
        "/altcha/challenge", params={"site": "malmo-bibliotek"}, headers={"Origin": SITE_ORIGIN}
    )

    assert own.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert "access-control-allow-origin" not in stranger.headers
    assert "Origin" in stranger.headers["vary"]
    assert challenge.headers["access-control-allow-origin"] == SITE_ORIGIN


async def test_site_lookups_are_cached_for_the_ttl(engine: AsyncEngine) -> None:
    now = [1000.0]
    directory = SiteDirectory(create_sessionmaker(engine), ttl=30, clock=lambda: now[0])
    await seed_member_site(engine, "malmo-bibliotek", origins=[SITE_ORIGIN])

    site = await directory.get("malmo-bibliotek")
    assert site is not None and site.allowed_origins == {SITE_ORIGIN}
    assert await directory.get("lund-konsthall") is None
    assert await directory.any_site_allows(SITE_ORIGIN)
    await seed_member_site(engine, "lund-konsthall", origins=[OTHER_SITE_ORIGIN])

    now[0] += 29
    assert await directory.get("lund-konsthall") is None  # still the cached miss
    assert not await directory.any_site_allows(OTHER_SITE_ORIGIN)
    now[0] += 2
    assert await directory.get("lund-konsthall") is not None
    assert await directory.any_site_allows(OTHER_SITE_ORIGIN)
