"""POST /subscribe over real HTTP: forms and JSON, states of an address, the queued mail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import subscriptions
from shared.tokens import Purpose, TokenSigner
from tests.subscriptions.conftest import (
    all_subscribers,
    all_subscriptions,
    confirm_token,
    queued_mails,
    seed_site,
    subscribe_json,
)


async def test_form_sign_up_redirects_to_thanks_and_queues_one_mail(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    form = {
        "email": "Maja.Jensen@Example.ORG",
        "lists": ["kultur", "musik"],
        "language": "sv",
        "name": "Maja Jensen",
        "consent": "on",
    }
    response = await client.post("/subscribe", data=form)

    assert response.status_code == 303
    assert response.headers["location"] == "/thanks?lang=sv"
    thanks = await client.get(response.headers["location"])
    assert thanks.status_code == 200
    assert '<html lang="sv">' in thanks.text
    assert "Titta i din inkorg" in thanks.text

    [subscriber] = await all_subscribers(engine)
    assert subscriber["email"] == "Maja.Jensen@example.org"
    assert subscriber["language"] == "sv"
    assert subscriber["name"] == "Maja Jensen"
    assert subscriber["status"] == "active"
    assert len(subscriber["key"]) == 32
    rows = await all_subscriptions(engine)
    assert {list_id: row["status"] for list_id, row in rows.items()} == {
        lists["kultur"]: "pending",
        lists["musik"]: "pending",
    }

    [mail] = await queued_mails(redis)
    assert mail.category == "confirm"
    assert mail.to == "Maja.Jensen@example.org"
    assert mail.message_key.startswith(f"confirm:{subscriber['key']}:")
    assert "Bekräfta" in mail.subject
    # Nobody has confirmed the address yet: the name typed with it is not repeated to it.
    assert "Hej!" in mail.text and "Maja Jensen" not in mail.text
    assert "Kultur i Öresund" in mail.text and "Musik och konserter" in mail.text
    assert mail.html is not None and '<html lang="sv">' in mail.html
    payload = signer.verify(Purpose.CONFIRM, confirm_token(mail))
    assert payload == [subscriber["key"], sorted([lists["kultur"], lists["musik"]])]


async def test_json_sign_up_answers_202(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    response = await subscribe_json(client, language="en")

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert "inbox" in body["message"]
    assert len(await all_subscribers(engine)) == 1
    [mail] = await queued_mails(redis)
    assert mail.subject == "Confirm your subscription to KulturMetropolØresund's newsletters"
    assert mail.text.startswith("Hello,")


async def test_lists_may_be_comma_separated_and_multipart(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    fields = {
        "email": "per@example.org",
        "lists": "kultur, born",
        "language": "da",
        "consent": "1",
    }
    # files= forces multipart/form-data, as a browser form with enctype=multipart sends it.
    response = await client.post("/subscribe", data=fields, files={"x": ("", b"")})

    assert response.status_code == 303
    rows = await all_subscriptions(engine)
    assert set(rows) == {lists["kultur"], lists["born"]}
    assert len(await queued_mails(redis)) == 1


async def test_same_answer_for_new_pending_confirmed_and_unsubscribed(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    form = {"email": "sofie@example.org", "lists": "kultur", "language": "da", "consent": "on"}

    async def answers() -> tuple[tuple[int, str | None, str], tuple[int, str]]:
        form_response = await client.post("/subscribe", data=form)
        json_response = await subscribe_json(client, email="sofie@example.org")
        return (
            (
                form_response.status_code,
                form_response.headers.get("location"),
                form_response.text,
            ),
            (json_response.status_code, json_response.text),
        )

    async def answers_in_new_hour() -> tuple[tuple[int, str | None, str], tuple[int, str]]:
        # Eight sign-ups of one address would pass the per-address limit (5 an hour).
        await redis.delete(*(await redis.keys("brevdue:limits:*")) or ["none"])
        return await answers()

    new = await answers_in_new_hour()
    pending = await answers_in_new_hour()
    await _set_status(engine, lists["kultur"], "confirmed")
    confirmed = await answers_in_new_hour()
    await _set_status(engine, lists["kultur"], "unsubscribed")
    unsubscribed = await answers_in_new_hour()

    assert new == pending == confirmed == unsubscribed
    assert new[0][:2] == (303, "/thanks?lang=da")
    assert new[1][0] == 202
    assert len(await all_subscribers(engine)) == 1


async def test_pending_is_sent_again_confirmed_is_not(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    await subscribe_json(client)
    await subscribe_json(client)
    assert len(await queued_mails(redis)) == 2  # each sign-up event gets its own mail

    await _set_status(engine, lists["kultur"], "confirmed")
    await redis.flushdb()
    await subscribe_json(client)
    assert await queued_mails(redis) == []
    assert (await all_subscriptions(engine))[lists["kultur"]]["status"] == "confirmed"


async def test_unsubscribed_goes_back_to_pending_and_only_pending_lists_are_in_the_token(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    await subscribe_json(client, lists=["kultur", "musik"])
    await _set_status(engine, lists["kultur"], "confirmed")
    await _set_status(engine, lists["musik"], "unsubscribed")
    await redis.flushdb()

    await subscribe_json(client, lists=["kultur", "musik", "born"])

    rows = await all_subscriptions(engine)
    assert rows[lists["kultur"]]["status"] == "confirmed"
    assert rows[lists["musik"]]["status"] == "pending"
    assert rows[lists["musik"]]["unsubscribed_at"] is None
    assert rows[lists["born"]]["status"] == "pending"
    [mail] = await queued_mails(redis)
    _key, list_ids = signer.verify(Purpose.CONFIRM, confirm_token(mail))
    assert list_ids == sorted([lists["musik"], lists["born"]])
    assert "Kultur i Øresund" not in mail.text


async def test_existing_subscriber_keeps_name_and_language(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    await subscribe_json(client, name="Maja", language="da")
    await subscribe_json(client, name="Someone Else", language="sv")

    [subscriber] = await all_subscribers(engine)
    assert (subscriber["name"], subscriber["language"]) == ("Maja", "da")
    mails = await queued_mails(redis)
    assert all("Someone Else" not in mail.text for mail in mails)


async def test_idn_domain_is_accepted_and_nordic_names_are_kept(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    response = await subscribe_json(
        client, email="Soren@KØBENHAVN.dk", name="Søren Ærø Åkesson-Öberg", language="da"
    )

    assert response.status_code == 202
    [subscriber] = await all_subscribers(engine)
    assert subscriber["email"] == "Soren@københavn.dk"
    assert subscriber["name"] == "Søren Ærø Åkesson-Öberg"
    [mail] = await queued_mails(redis)
    assert mail.to == "Soren@københavn.dk"
    await client.post(f"/confirm/{confirm_token(mail)}")
    await redis.flushdb()

    await subscribe_json(client, email="Soren@KØBENHAVN.dk", lists=["musik"], language="da")
    [mail] = await queued_mails(redis)  # the owner confirmed: now the name greets them
    assert "Hej Søren Ærø Åkesson-Öberg" in mail.text


async def test_non_ascii_local_part_is_refused_with_a_reason(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    response = await subscribe_json(client, email="søren@example.dk", language="da")

    assert response.status_code == 422
    assert "før @" in response.json()["errors"]["email"]
    assert await all_subscribers(engine) == []


async def test_known_site_is_credited_unknown_site_refused(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    site_id = await seed_site(engine, "malmo-bibliotek")

    accepted = await subscribe_json(client, email="a@example.org", site="malmo-bibliotek")
    refused = await subscribe_json(client, email="b@example.org", site="no-such-site")

    assert accepted.status_code == 202
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"site"}
    [subscriber] = await all_subscribers(engine)
    assert subscriber["source_site_id"] == site_id
    assert len(await queued_mails(redis)) == 1


async def test_subscribe_form_page_lists_public_lists_only(
    client: httpx.AsyncClient, lists: dict[str, int]
) -> None:
    response = await client.get("/subscribe", params={"lang": "da", "lists": "musik,born"})

    assert response.status_code == 200
    assert '<html lang="da">' in response.text
    assert "Kultur i Øresund" in response.text
    assert "Internt" not in response.text
    assert 'value="musik" id="lists-3" checked' in response.text
    assert 'value="born" id="lists" checked' in response.text
    assert 'value="kultur" id="lists-2">' in response.text
    assert '<label for="email">' in response.text


async def _set_status(engine: AsyncEngine, list_id: int, status: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.list_id == list_id)
            .values(status=status, confirmed_at=datetime.now(UTC))
        )


async def test_concurrent_sign_ups_of_one_address_make_one_subscriber(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    responses = await asyncio.gather(
        *(
            subscribe_json(client, email="race@example.org", lists=["kultur", "musik"])
            for _ in range(5)  # the per-address limit allows 5 an hour
        )
    )

    assert [response.status_code for response in responses] == [202] * 5
    assert len(await all_subscribers(engine)) == 1
    assert len(await all_subscriptions(engine)) == 2


PHISHING_NAME = "Your account will be deleted. Keep it at https://evil.example/login"


async def test_a_name_typed_with_an_unconfirmed_address_is_not_mailed_to_it(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    first = await subscribe_json(client, email="victim@example.org", name=PHISHING_NAME)
    # A second sign-up before any confirmation: still nobody has vouched for the name.
    second = await subscribe_json(client, email="victim@example.org", lists=["musik"])

    assert first.status_code == second.status_code == 202
    mails = await queued_mails(redis)
    assert len(mails) == 2
    for mail in mails:
        assert mail.category == "confirm"
        assert mail.html is not None
        for body in (mail.text, mail.html, mail.subject):
            assert "evil.example" not in body
            assert "account will be deleted" not in body
        assert mail.text.startswith("Hej\n")  # the greeting without a name
    [subscriber] = await all_subscribers(engine)
    assert subscriber["name"] == PHISHING_NAME  # kept for the owner to see and change
