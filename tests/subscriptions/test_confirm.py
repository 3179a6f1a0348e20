"""GET/POST /confirm/{token}: scanners change nothing, the button confirms, bad links explain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.settings import Secret
from shared.tokens import Purpose, TokenSigner
from tests.subscriptions.conftest import (
    all_subscribers,
    all_subscriptions,
    confirm_token,
    queued_mails,
    subscribe_json,
)
from tests.subscriptions.residents import sign_up


async def _signed_up(client: httpx.AsyncClient, redis: Redis, **fields: object) -> str:
    response = await subscribe_json(client, **fields)
    assert response.status_code == 202
    mails = await queued_mails(redis)
    return confirm_token(mails[-1])


async def test_get_shows_a_button_and_changes_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    token = await _signed_up(client, redis, lists=["kultur", "musik"], language="sv")

    for _ in range(3):  # link scanners may follow it several times
        response = await client.get(f"/confirm/{token}")
        assert response.status_code == 200
    page = response.text
    assert '<html lang="sv">' in page  # the subscriber's language
    assert f'<form method="post" action="/confirm/{token}?lang=sv">' in page
    assert "<button" in page
    assert "Kultur i Öresund" in page and "Musik och konserter" in page
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    rows = await all_subscriptions(engine)
    assert {row["status"] for row in rows.values()} == {"pending"}


async def test_post_confirms_and_twice_is_harmless(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    token = await _signed_up(client, redis, lists=["kultur", "musik"])

    first = await client.post(f"/confirm/{token}")
    rows = await all_subscriptions(engine)
    confirmed_at = {list_id: row["confirmed_at"] for list_id, row in rows.items()}
    second = await client.post(f"/confirm/{token}")

    assert first.status_code == second.status_code == 200
    assert first.text == second.text
    assert "Din tilmelding er bekræftet" in first.text
    assert "Kultur i Øresund" in first.text
    rows = await all_subscriptions(engine)
    assert {row["status"] for row in rows.values()} == {"confirmed"}
    assert all(row["confirmed_at"] is not None for row in rows.values())
    assert {list_id: row["confirmed_at"] for list_id, row in rows.items()} == confirmed_at


async def test_confirm_only_touches_the_lists_in_the_link(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    first_token = await _signed_up(client, redis, lists=["kultur"])
    await _signed_up(client, redis, lists=["musik"])

    await client.post(f"/confirm/{first_token}")

    rows = await all_subscriptions(engine)
    assert rows[lists["kultur"]]["status"] == "confirmed"
    assert rows[lists["musik"]]["status"] == "pending"


async def test_an_old_confirm_link_does_not_undo_an_unsubscribe(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    token = await _signed_up(client, redis)
    await client.post(f"/confirm/{token}")
    [subscriber] = await all_subscribers(engine)
    unsubscribe = signer.sign(Purpose.UNSUBSCRIBE, [subscriber["key"], 1])
    await client.post(f"/unsubscribe/{unsubscribe}")

    response = await client.post(f"/confirm/{token}")

    assert response.status_code == 410
    assert "Din tilmelding er bekræftet" not in response.text
    assert "Dette bekræftelseslink gælder ikke længere" in response.text
    assert (await all_subscriptions(engine))[lists["kultur"]]["status"] == "unsubscribed"


GONE = {
    "da": (
        "Dette bekræftelseslink gælder ikke længere",
        "Vil du have nyhedsbrevene igen, så tilmeld dig på ny",
    ),
    "sv": (
        "Den här bekräftelselänken gäller inte längre",
        "Vill du ha nyhetsbreven igen kan du anmäla dig på nytt",
    ),
    "en": (
        "This confirmation link no longer applies",
        "If you want the newsletters again, sign up once more",
    ),
}


def _says_the_link_is_gone(response: httpx.Response, lang: str) -> None:
    heading, advice = GONE[lang]
    assert response.status_code == 410
    assert f'<html lang="{lang}">' in response.text
    assert f"<h1>{heading}</h1>" in response.text
    assert advice in response.text
    assert f'<a href="/subscribe?lang={lang}">' in response.text  # how to sign up again
    assert "<form" not in response.text  # nothing left to confirm
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("lang", ["da", "sv", "en"])
async def test_a_confirm_link_used_after_unsubscribing_says_it_no_longer_applies(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
    lang: str,
) -> None:
    token = await _signed_up(client, redis, language=lang, lists=["kultur", "musik"])
    await client.post(f"/confirm/{token}")
    [subscriber] = await all_subscribers(engine)
    await client.post(f"/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, [subscriber['key'], 1])}")

    for method in ("GET", "POST"):
        _says_the_link_is_gone(await client.request(method, f"/confirm/{token}"), lang)

    rows = await all_subscriptions(engine)
    assert {row["status"] for row in rows.values()} == {"unsubscribed"}


@pytest.mark.parametrize("lang", ["da", "sv", "en"])
async def test_a_confirm_link_used_after_erasure_says_it_no_longer_applies(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    lang: str,
) -> None:
    resident = await sign_up(client, redis, confirm=False)
    erased = await client.post(f"/preferences/{resident.preferences}/erase")
    assert erased.status_code == 200
    assert await all_subscribers(engine) == []

    for method in ("GET", "POST"):
        response = await client.request(
            method, f"/confirm/{resident.confirm}", headers={"accept-language": lang}
        )
        _says_the_link_is_gone(response, lang)
    assert await all_subscribers(engine) == []


async def test_the_confirmed_page_names_only_the_lists_still_subscribed(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis, lists=["kultur", "musik"])
    saved = await client.post(
        f"/preferences/{resident.preferences}",
        data={"lists": ["kultur"], "language": "da", "name": "", "municipality": ""},
    )
    assert saved.status_code == 303

    for method in ("GET", "POST"):
        response = await client.request(method, f"/confirm/{resident.confirm}")
        assert response.status_code == 200
        assert "Kultur i Øresund" in response.text
        assert "Musik og koncerter" not in response.text
    rows = await all_subscriptions(engine)
    assert rows[lists["musik"]]["status"] == "unsubscribed"


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({}, "", ("da", "Dette bekræftelseslink er udløbet")),
        (
            {"accept-language": "sv-SE,sv;q=0.9"},
            "",
            ("sv", "Den här bekräftelselänken har gått ut"),
        ),
        ({"accept-language": "en-GB"}, "", ("en", "This confirmation link has expired")),
        ({"accept-language": "sv"}, "?lang=en", ("en", "This confirmation link has expired")),
    ],
)
async def test_expired_link_explains_in_the_residents_language(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    headers: dict[str, str],
    query: str,
    expected: tuple[str, str],
) -> None:
    token = await _signed_up(client, redis)
    lang, heading = expected

    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=True):
        for method in ("GET", "POST"):
            response = await client.request(method, f"/confirm/{token}{query}", headers=headers)
            assert response.status_code == 400
            assert f'<html lang="{lang}">' in response.text
            assert heading in response.text
            assert 'href="/subscribe?lang=' in response.text  # what to do: sign up again

    assert {row["status"] for row in (await all_subscriptions(engine)).values()} == {"pending"}


async def test_link_is_still_good_just_before_it_expires(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    token = await _signed_up(client, redis)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=6, hours=23), tick=True):
        response = await client.post(f"/confirm/{token}")
    assert response.status_code == 200
    assert (await all_subscriptions(engine))[lists["kultur"]]["status"] == "confirmed"


async def test_wrong_purpose_tampered_and_foreign_tokens_are_400(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    token = await _signed_up(client, redis)
    [subscriber] = await all_subscribers(engine)
    unsubscribe_token = signer.sign(Purpose.UNSUBSCRIBE, [subscriber["key"], 1])
    foreign = TokenSigner([Secret("another-secret-key-of-16+")]).sign(
        Purpose.CONFIRM, [subscriber["key"], [lists["kultur"]]]
    )
    wrong_shape = signer.sign(Purpose.CONFIRM, {"key": subscriber["key"]})
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")

    for bad in (unsubscribe_token, foreign, wrong_shape, tampered):
        for method in ("GET", "POST"):
            response = await client.request(
                method, f"/confirm/{bad}", headers={"accept-language": "en"}
            )
            assert response.status_code == 400, bad
            assert "This confirmation link does not work" in response.text
    assert (await all_subscriptions(engine))[lists["kultur"]]["status"] == "pending"


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "a" * 5000,
        "æøå-ÅÄÖ",
        "%00%00",
        "..%2F..%2Fetc%2Fpasswd",
        "eyJhIjoxfQ.AAAA.BBBB",
        "😀" * 50,
        "%ff%fe",
        "tok en",
    ],
)
async def test_garbage_tokens_never_500(
    client: httpx.AsyncClient, lists: dict[str, int], token: str
) -> None:
    for path in (f"/confirm/{token}", f"/unsubscribe/{token}"):
        for method in ("GET", "POST"):
            response = await client.request(method, path)
            assert 400 <= response.status_code < 500, (method, path, response.status_code)
            assert response.headers["content-type"].startswith("text/html")
