"""Refused sign-ups: 4xx with reasons per field, a readable page for forms, nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.subscriptions.conftest import all_subscribers, all_subscriptions, queued_mails
from tests.subscriptions.member_sites import seed_member_site

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database

GOOD = {"email": "maja@example.org", "lists": ["kultur"], "language": "da", "consent": True}


async def _nothing_stored(engine: AsyncEngine, redis: Redis) -> None:
    assert await all_subscribers(engine) == []
    assert await all_subscriptions(engine) == {}
    assert await queued_mails(redis) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consent": False}, "consent"),
        ({"consent": None}, "consent"),
        ({"consent": "no"}, "consent"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "maja@"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "a" * 310 + "@example.org"}, "email"),
        ({"email": "maja\x00@example.org"}, "email"),
        ({"lists": []}, "lists"),
        ({"lists": ["no-such-list"]}, "lists"),
        ({"lists": ["intern"]}, "lists"),  # private lists are not offered
        ({"lists": ["kultur", "no-such-list"]}, "lists"),
        ({"lists": ["x" * 65]}, "lists"),
        ({"lists": ["kult\x00ur"]}, "lists"),
        ({"language": "de"}, "language"),
        ({"language": None}, "language"),
        ({"name": "n" * 201}, "name"),
        ({"name": "Maja\x07"}, "name"),
        ({"site": "s" * 65}, "site"),
        ({"email": 42}, "email"),
        ({"lists": {"a": 1}}, "lists"),
        ({"consent": [True]}, "consent"),
        ({"name": ["Maja"]}, "name"),
    ],
)
async def test_json_field_errors(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    change: dict[str, Any],
    field: str,
) -> None:
    response = await client.post("/subscribe", json={**GOOD, **change})

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert field in errors
    assert isinstance(errors[field], str) and errors[field]
    await _nothing_stored(engine, redis)


async def test_json_errors_are_all_reported_in_the_chosen_language(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    response = await client.post(
        "/subscribe", json={"email": "nope", "lists": [], "language": "sv"}
    )

    assert response.status_code == 422
    assert response.json() == {
        "errors": {
            "email": "Ange en giltig e-postadress, till exempel namn@exempel.se.",
            "lists": "Välj minst ett nyhetsbrev.",
            "consent": "Kryssa i rutan för att godkänna att du får nyhetsbrevet.",
        }
    }
    await _nothing_stored(engine, redis)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b"[1, 2, 3]", "not_object"),
        (b'"just a string"', "not_object"),
        (b"null", "not_object"),
        (
            b'{"email": "\\ud800@example.org", "lists": ["kultur"], "language": "da",'
            b' "consent": true}',
            None,
        ),
        (b"\xff\xfe\x00garbage", "invalid_json"),
    ],
)
async def test_bad_json_bodies(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    raw: bytes,
    reason: str | None,
) -> None:
    response = await client.post(
        "/subscribe", content=raw, headers={"content-type": "application/json"}
    )

    assert response.status_code in (400, 422)
    assert "errors" in response.json()
    if reason is not None:
        assert list(response.json()["errors"]) == ["body"]
    await _nothing_stored(engine, redis)


async def test_form_errors_show_the_form_again_in_the_residents_language(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    form = {
        "email": "maja(at)example.org",
        "name": "Åsa Öberg",
        "lists": "musik",
        "language": "sv",
    }
    response = await client.post("/subscribe", data=form)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="sv">' in page
    assert "Rätta till följande" in page
    assert '<a href="#email">Ange en giltig e-postadress' in page
    assert '<a href="#consent">' in page
    assert 'aria-describedby="email-error"' in page
    assert 'id="email-error"' in page
    assert 'aria-describedby="consent-error"' in page
    # What was typed is shown again (escaped), so nothing has to be retyped.
    assert 'value="maja(at)example.org"' in page
    assert 'value="Åsa Öberg"' in page
    assert 'value="musik" id="lists-3" checked' in page
    assert 'value="sv" id="language-sv" checked' in page
    await _nothing_stored(engine, redis)


async def test_form_error_for_an_unknown_list_is_linked_to_the_lists(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    form = {"email": "maja@example.org", "lists": "intern", "language": "da", "consent": "on"}
    response = await client.post("/subscribe", data=form)

    assert response.status_code == 422
    assert '<a href="#lists">Der findes intet nyhedsbrev med navnet “intern”' in response.text
    assert 'aria-describedby="lists-error"' in response.text
    await _nothing_stored(engine, redis)


async def test_form_values_are_escaped(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    form = {"email": '"><script>alert(1)</script>', "lists": "kultur", "language": "en"}
    response = await client.post("/subscribe", data=form)

    assert response.status_code == 422
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text
    await _nothing_stored(engine, redis)


async def test_oversized_body_is_refused(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    response = await client.post("/subscribe", json={**GOOD, "name": "x" * 20_000})
    assert response.status_code == 413
    form = await client.post("/subscribe", data={**GOOD, "consent": "on", "x": "y" * 20_000})
    assert form.status_code == 413
    assert form.headers["content-type"].startswith("text/html")
    await _nothing_stored(engine, redis)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", None, "image/png", "application/jsonx"]
)
async def test_wrong_content_type_is_415(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    content_type: str | None,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(
        "/subscribe", content=b"email=maja@example.org&consent=on", headers=headers
    )
    as_json = await client.post(
        "/subscribe", content=b"email=maja", headers={**headers, "accept": "application/json"}
    )

    assert response.status_code == as_json.status_code == 415
    assert "<h1>Formatet understøttes ikke</h1>" in response.text
    assert as_json.json()["detail"] == "Send a form (urlencoded or multipart) or JSON."
    await _nothing_stored(engine, redis)


async def test_broken_multipart_is_a_client_error(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    for headers in (
        {"content-type": "multipart/form-data"},  # no boundary
        {"content-type": "multipart/form-data; boundary=xyz"},
    ):
        response = await client.post("/subscribe", content=b"--abc\r\ngarbage", headers=headers)
        assert 400 <= response.status_code < 500
    await _nothing_stored(engine, redis)


async def test_invalid_utf8_in_a_form_is_no_server_error(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    body = b"email=maja%40example.org&lists=kultur&language=da&consent=on&name=%FF%FE"
    response = await client.post(
        "/subscribe", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )

    # Undecodable bytes become U+FFFD (as browsers do), never a failure to store.
    assert response.status_code == 303
    [subscriber] = await all_subscribers(engine)
    assert subscriber["name"] == "\ufffd\ufffd"


def _nested(depth: int, *, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return opener * depth + closer * depth


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":' * 1000 + b"1" + b"}" * 1000,  # 2 KB that used to exhaust the decoder
        b'{"a":' * 900 + b"1" + b"}" * 900,
        _nested(1000),
        b'{"email": "maja@example.org", "custom": ' + _nested(5000) + b"}",
        b'{"website": ' + _nested(17) + b"}",  # just past the limit
    ],
    ids=["objects-1000", "objects-900", "arrays-1000", "custom-5000", "website-17"],
)
@pytest.mark.parametrize("path", ["/subscribe", "/embed/malmo-bibliotek"])
async def test_deeply_nested_json_is_refused_with_a_reason(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    raw: bytes,
    path: str,
) -> None:
    await seed_member_site(engine, "malmo-bibliotek", origins=["https://malmo.example"])

    response = await client.post(
        path, content=raw, headers={"content-type": "application/json", "accept-language": "en"}
    )

    assert response.status_code == 422
    assert response.json() == {
        "errors": {"body": "The request body is nested too deeply to be a sign-up."}
    }
    await _nothing_stored(engine, redis)


async def test_brackets_inside_strings_do_not_count_as_nesting(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    name = "[{" * 100 + '\\"' + "[" * 50
    response = await client.post(
        "/subscribe",
        content=(
            b'{"email": "maja@example.org", "lists": [["kultur"]][0], "name": "'
            + name.encode()
            + b'"}'
        ),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422  # invalid JSON, but not for its depth
    assert response.json()["errors"]["body"] == "Forespørgslens indhold er ikke gyldig JSON."

    response = await client.post("/subscribe", json={**GOOD, "name": "[{" * 100})
    assert response.status_code == 202
    [subscriber] = await all_subscribers(engine)
    assert subscriber["name"] == "[{" * 100


@pytest.mark.parametrize(
    ("lang", "reason"),
    [
        ("da", "Forespørgslens indhold er for dybt indlejret til at være en tilmelding."),
        ("sv", "Förfrågans innehåll är för djupt nästlat för att vara en anmälan."),
        ("en", "The request body is nested too deeply to be a sign-up."),
    ],
)
async def test_the_nesting_reason_is_given_in_the_residents_language(
    client: httpx.AsyncClient, lists: dict[str, int], lang: str, reason: str
) -> None:
    response = await client.post(
        f"/subscribe?lang={lang}",
        content=_nested(100),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json() == {"errors": {"body": reason}}
