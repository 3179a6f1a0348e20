"""GET/POST /unsubscribe/{token}: RFC 8058 one-click, the button, and scanners."""

from __future__ import annotations

import re

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.links import read_preferences, sign_unsubscribe
from shared.tokens import Purpose, TokenSigner
from tests.subscriptions.conftest import (
    all_subscribers,
    all_subscriptions,
    confirm_token,
    queued_mails,
    subscribe_json,
)
from tests.subscriptions.residents import audit_rows, consent_rows


async def _confirmed_subscriber(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    signer: TokenSigner,
    *,
    campaign_lists: list[int] | None = None,
) -> str:
    """Sign up to two lists, confirm, and return an unsubscribe token for campaign 7: one
    naming ``campaign_lists``, or without them one as mail sent before links named lists."""
    await subscribe_json(client, lists=["kultur", "musik"], language="sv")
    [mail] = await queued_mails(redis)
    await client.post(f"/confirm/{confirm_token(mail)}")
    [subscriber] = await all_subscribers(engine)
    if campaign_lists is not None:
        return sign_unsubscribe(signer, subscriber["key"], 7, campaign_lists)
    return signer.sign(Purpose.UNSUBSCRIBE, [subscriber["key"], 7])


async def _status_by_list(engine: AsyncEngine) -> dict[int, str]:
    return {list_id: row["status"] for list_id, row in (await all_subscriptions(engine)).items()}


async def _statuses(engine: AsyncEngine) -> set[str]:
    return {row["status"] for row in (await all_subscriptions(engine)).values()}


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
async def test_an_old_one_click_link_without_lists_leaves_every_list(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
    encoding: str,
) -> None:
    token = await _confirmed_subscriber(client, engine, redis, signer)
    assert await _statuses(engine) == {"confirmed"}

    if encoding == "urlencoded":
        response = await client.post(
            f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
        )
    else:
        response = await client.post(
            f"/unsubscribe/{token}",
            data={"List-Unsubscribe": "One-Click"},
            files={"unused": ("", b"")},
        )
        assert response.request.headers["content-type"].startswith("multipart/form-data")

    assert response.status_code == 200
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert '<html lang="sv">' in response.text
    assert "Du är avregistrerad" in response.text
    rows = await all_subscriptions(engine)
    assert {row["status"] for row in rows.values()} == {"unsubscribed"}
    assert all(row["unsubscribed_at"] is not None for row in rows.values())


async def test_exact_rfc8058_body_and_a_plain_button_post(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    token = await _confirmed_subscriber(client, engine, redis, signer)

    one_click = await client.post(
        f"/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    button = await client.post(f"/unsubscribe/{token}?lang=en")  # the page's form, no body

    assert one_click.status_code == button.status_code == 200
    assert "You are unsubscribed" in button.text
    assert await _statuses(engine) == {"unsubscribed"}


async def test_one_click_leaves_only_the_lists_of_the_campaign(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    token = await _confirmed_subscriber(
        client, engine, redis, signer, campaign_lists=[lists["kultur"]]
    )

    response = await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    again = await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == again.status_code == 200
    assert await _status_by_list(engine) == {
        lists["kultur"]: "unsubscribed",
        lists["musik"]: "confirmed",
    }
    withdrawn = [e for e in await consent_rows(engine) if e["event"] == "withdrawn"]
    assert [(e["list_id"], e["form"]) for e in withdrawn] == [(lists["kultur"], "link")]
    [entry] = [e for e in await audit_rows(engine) if e["action"] == "unsubscribed"]
    assert entry["details"] == {"via": "link", "campaign_id": 7, "lists": 1}
    page = response.text
    assert "Kultur i Öresund" in page and "Musik och konserter" not in page
    assert f'action="/unsubscribe/{token}/all?lang=sv"' in page
    assert 'href="/preferences/' in page


async def test_the_page_offers_leaving_every_list_and_the_preference_center(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    token = await _confirmed_subscriber(
        client, engine, redis, signer, campaign_lists=[lists["kultur"]]
    )

    page = await client.get(f"/unsubscribe/{token}")
    preferences = re.search(r'href="/preferences/([^"?]+)\?lang=sv"', page.text)
    everything = await client.post(f"/unsubscribe/{token}/all?lang=en")

    assert page.status_code == 200
    assert "Kultur i Öresund" in page.text and "Musik och konserter" not in page.text
    assert f'<form method="post" action="/unsubscribe/{token}?lang=sv">' in page.text
    assert f'<form method="post" action="/unsubscribe/{token}/all?lang=sv">' in page.text
    assert preferences is not None
    [subscriber] = await all_subscribers(engine)
    assert read_preferences(signer, preferences.group(1)) == subscriber["key"]
    assert everything.status_code == 200
    assert "You are unsubscribed" in everything.text
    assert await _statuses(engine) == {"unsubscribed"}


async def test_get_shows_a_button_and_changes_nothing(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    token = await _confirmed_subscriber(client, engine, redis, signer)

    response = await client.get(f"/unsubscribe/{token}")

    assert response.status_code == 200
    assert '<html lang="sv">' in response.text
    assert f'<form method="post" action="/unsubscribe/{token}?lang=sv">' in response.text
    assert await _statuses(engine) == {"confirmed"}


async def test_unknown_subscriber_gets_the_same_page(
    client: httpx.AsyncClient, lists: dict[str, int], signer: TokenSigner
) -> None:
    token = signer.sign(Purpose.UNSUBSCRIBE, ["0" * 32, 1])

    get = await client.get(f"/unsubscribe/{token}?lang=da")
    post = await client.post(
        f"/unsubscribe/{token}?lang=da", data={"List-Unsubscribe": "One-Click"}
    )

    assert get.status_code == post.status_code == 200
    assert "Du er afmeldt" in post.text


async def test_bad_unsubscribe_tokens_are_400_pages(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    token = await _confirmed_subscriber(client, engine, redis, signer)
    [subscriber] = await all_subscribers(engine)
    confirm_purpose = signer.sign(Purpose.CONFIRM, [subscriber["key"], [lists["kultur"]]])
    wrong_shape = signer.sign(Purpose.UNSUBSCRIBE, [subscriber["key"], "seven"])

    for bad in (confirm_purpose, wrong_shape, token[:-2] + "xx"):
        response = await client.post(f"/unsubscribe/{bad}", headers={"accept-language": "sv"})
        assert response.status_code == 400
        assert '<html lang="sv">' in response.text
        assert "Den här avregistreringslänken fungerar inte" in response.text
    assert await _statuses(engine) == {"confirmed"}


async def test_oversized_unsubscribe_body_is_413_not_500(
    client: httpx.AsyncClient, lists: dict[str, int], signer: TokenSigner
) -> None:
    token = signer.sign(Purpose.UNSUBSCRIBE, ["0" * 32, 1])
    response = await client.post(f"/unsubscribe/{token}", content=b"x" * 100_000)
    # The body is never read, so it is answered like any other one-click request.
    assert response.status_code in (200, 413)
