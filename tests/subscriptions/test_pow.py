"""The sign-up proof of work over HTTP: challenges, single-use solutions, per-site enforcement."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from altcha.v1 import solve_challenge
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from services.subscriptions.proof_of_work import ProofOfWork, derive_hmac_key
from shared.settings import Settings
from tests.subscriptions.conftest import all_subscribers, queued_mails, subscribe_json
from tests.subscriptions.member_sites import seed_member_site

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database


def solve(challenge: dict[str, Any]) -> str:
    """Solve a challenge as the widget does and encode the answer for the ``altcha`` field."""
    solution = solve_challenge(
        challenge["challenge"], challenge["salt"], "SHA-256", challenge["maxNumber"]
    )
    assert solution is not None
    payload = {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


async def fresh_solution(client: httpx.AsyncClient) -> str:
    """Fetch a challenge from the service and solve it."""
    response = await client.get("/altcha/challenge")
    assert response.status_code == 200
    return solve(response.json())


async def test_challenge_is_signed_expires_in_ten_minutes_and_never_cached(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.get("/altcha/challenge")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    challenge = response.json()
    assert set(challenge) == {"algorithm", "challenge", "maxNumber", "salt", "signature"}
    assert challenge["algorithm"] == "SHA-256"
    assert challenge["maxNumber"] == settings.altcha_max_number
    expires = int(parse_qs(challenge["salt"].split("?", 1)[1])["expires"][0].rstrip("&"))
    assert 9 * 60 < expires - time.time() <= 10 * 60
    other = (await client.get("/altcha/challenge")).json()
    assert other["salt"] != challenge["salt"]


async def test_site_requiring_proof_of_work_refuses_a_sign_up_without_one(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "lund-konsthall", proof_of_work=True)

    response = await subscribe_json(client, site="lund-konsthall", language="en")

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"altcha"}
    assert "JavaScript" in response.json()["errors"]["altcha"]
    assert await all_subscribers(engine) == []
    assert await queued_mails(redis) == []


async def test_solved_challenge_is_accepted_once(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    site_id = await seed_member_site(engine, "lund-konsthall", proof_of_work=True)
    solution = await fresh_solution(client)

    first = await subscribe_json(client, site="lund-konsthall", altcha=solution)
    again = await subscribe_json(
        client, site="lund-konsthall", altcha=solution, email="other@example.org", language="en"
    )

    assert first.status_code == 202
    assert again.status_code == 422
    assert again.json()["errors"] == {
        "altcha": "This form has already been sent. Please reload the page and try again."
    }
    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] == site_id
    assert len(await queued_mails(redis)) == 1


async def test_tampered_wrong_and_garbage_solutions_are_invalid(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "lund-konsthall", proof_of_work=True)
    good = json.loads(base64.b64decode(await fresh_solution(client)))
    wrong_number = base64.b64encode(json.dumps({**good, "number": good["number"] + 1}).encode())
    forged = base64.b64encode(json.dumps({**good, "signature": "0" * 64}).encode())
    no_expiry = base64.b64encode(json.dumps({**good, "salt": "abc&"}).encode())

    for bad in (wrong_number.decode(), forged.decode(), no_expiry.decode(), "not base64!", "e30="):
        response = await subscribe_json(client, site="lund-konsthall", altcha=bad, language="en")
        assert response.status_code == 422, bad
        assert response.json()["errors"] == {
            "altcha": "The check that you are not a robot failed. Please try again."
        }
    assert await all_subscribers(engine) == []


async def test_expired_solution_is_refused(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    settings: Settings,
    lists: dict[str, int],
) -> None:
    await seed_member_site(engine, "lund-konsthall", proof_of_work=True)
    issuer = ProofOfWork(derive_hmac_key(settings), redis, max_number=1000)
    old = issuer.challenge(now=datetime.now(UTC) - timedelta(minutes=11))
    solution = solve(
        {
            "algorithm": old.algorithm,
            "challenge": old.challenge,
            "maxNumber": old.max_number,
            "salt": old.salt,
            "signature": old.signature,
        }
    )

    response = await subscribe_json(client, site="lund-konsthall", altcha=solution, language="sv")

    assert response.status_code == 422
    assert "tog för lång tid" in response.json()["errors"]["altcha"]


async def test_challenge_signed_with_another_key_is_invalid(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "lund-konsthall", proof_of_work=True)
    stranger = ProofOfWork("some-other-key", redis, max_number=1000).challenge()
    solution = solve(
        {
            "algorithm": stranger.algorithm,
            "challenge": stranger.challenge,
            "maxNumber": stranger.max_number,
            "salt": stranger.salt,
            "signature": stranger.signature,
        }
    )

    response = await subscribe_json(client, site="lund-konsthall", altcha=solution)

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"altcha"}


async def test_sites_without_proof_of_work_need_none(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", proof_of_work=False)

    with_site = await subscribe_json(client, site="malmo-bibliotek")
    without_site = await subscribe_json(client, email="other@example.org")

    assert with_site.status_code == 202
    assert without_site.status_code == 202


async def test_dropping_the_site_key_does_not_skip_a_sites_proof_of_work(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "lund-konsthall", proof_of_work=True)

    without_site = await subscribe_json(client, language="en")
    solved = await subscribe_json(client, altcha=await fresh_solution(client))

    assert without_site.status_code == 422
    assert set(without_site.json()["errors"]) == {"altcha"}
    assert solved.status_code == 202
    assert len(await all_subscribers(engine)) == 1
    assert len(await queued_mails(redis)) == 1


async def test_policy_off_lets_sign_ups_without_a_site_through(
    settings: Settings,
    live_server: Any,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    await seed_member_site(engine, "lund-konsthall", proof_of_work=True)
    relaxed = dataclasses.replace(settings, proof_of_work_without_site="off")

    async with (
        live_server(create_app(relaxed)) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        page = await client.get("/subscribe")
        without_site = await subscribe_json(client)
        with_site = await subscribe_json(client, site="lund-konsthall", email="o@example.org")

    assert "data-pow-form" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert without_site.status_code == 202
    assert with_site.status_code == 422


async def test_policy_always_asks_every_sign_up_without_a_site(
    settings: Settings,
    live_server: Any,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", proof_of_work=False)
    strict = dataclasses.replace(settings, proof_of_work_without_site="always")

    async with (
        live_server(create_app(strict)) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        without_site = await subscribe_json(client)
        with_site = await subscribe_json(client, site="malmo-bibliotek")

    assert without_site.status_code == 422
    assert set(without_site.json()["errors"]) == {"altcha"}
    assert with_site.status_code == 202


async def test_our_form_solves_the_proof_of_work_and_explains_it_without_javascript(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "lund-konsthall", proof_of_work=True)
    form = {"email": "maja@example.org", "lists": "kultur", "language": "da", "consent": "on"}

    page = await client.get("/subscribe")
    refused = await client.post("/subscribe", data=form)
    accepted = await client.post(
        "/subscribe", data={**form, "altcha": await fresh_solution(client)}
    )

    assert 'src="/widget.js" data-pow-form="signup"' in page.text
    assert '<input type="hidden" name="altcha" value="">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert refused.status_code == 422
    assert "Formularen skal bruge JavaScript" in refused.text
    assert 'data-pow-form="signup"' in refused.text
    assert accepted.status_code == 303


async def test_plain_form_for_a_proof_of_work_site_explains_javascript_is_needed(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_member_site(engine, "lund-konsthall", proof_of_work=True)
    form = {
        "email": "maja@example.org",
        "lists": "kultur",
        "language": "da",
        "consent": "on",
        "site": "lund-konsthall",
    }

    response = await client.post("/subscribe", data=form)

    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert "Formularen skal bruge JavaScript" in response.text
    assert await all_subscribers(engine) == []


async def test_embed_form_with_a_solution_signs_up(
    client: httpx.AsyncClient, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    site_id = await seed_member_site(engine, "lund-konsthall", proof_of_work=True)
    page = await client.get("/embed/lund-konsthall")
    assert '<input type="hidden" name="altcha" value="">' in page.text
    assert 'src="/widget.js" data-pow-form="signup"' in page.text
    form = {
        "email": "maja@example.org",
        "lists": "kultur",
        "consent": "on",
        "altcha": await fresh_solution(client),
    }

    response = await client.post("/embed/lund-konsthall", data=form)

    assert response.status_code == 303
    assert response.headers["location"] == "/embed/lund-konsthall/thanks?lang=sv"
    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] == site_id
