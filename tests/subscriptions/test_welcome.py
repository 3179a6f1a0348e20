"""Welcome mails after confirmation, lists without double opt-in, and editing the texts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app as create_campaigns_app
from services.mailer.worker import run_worker as run_mailer
from services.subscriptions.welcome import welcome_message_key
from shared.schema import mailing_lists
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner
from tests.conftest import CLIENT_TLS, app_for
from tests.subscriptions.conftest import (
    all_subscribers,
    all_subscriptions,
    confirm_token,
    queued_mails,
    subscribe_json,
)
from tests.support.smtp import RecordingSMTPServer

WELCOME_SV = {
    "welcome_subject_sv": "Välkommen till {{ list.name }}",
    "welcome_body_sv": "Hej {{ subscriber.name or 'du' }}!\n\nNu får du {{ list.name }}.\n",
}


async def _set_list(engine: AsyncEngine, list_id: int, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(mailing_lists).where(mailing_lists.c.id == list_id).values(**values)
        )


async def test_confirming_sends_one_welcome_per_list_with_a_text_in_the_language(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    await _set_list(engine, lists["kultur"], **WELCOME_SV)
    # Musik has a welcome in Danish only: a Swedish subscriber gets none (no fallback).
    await _set_list(engine, lists["musik"], welcome_subject_da="Velkommen", welcome_body_da="Hej")
    await subscribe_json(
        client,
        email="asa@example.org",
        name="Åsa",
        language="sv",
        lists=["kultur", "musik", "born"],
    )
    [confirmation] = await queued_mails(redis)
    token = confirm_token(confirmation)
    await run_mailer(settings, burst=True)

    first = await client.post(f"/confirm/{token}")
    second = await client.post(f"/confirm/{token}")  # twice: harmless, no second welcome

    assert first.status_code == second.status_code == 200
    [welcome] = await queued_mails(redis)
    [subscriber] = await all_subscribers(engine)
    assert welcome.category == "welcome"
    assert welcome.message_key == welcome_message_key(subscriber["key"], lists["kultur"])
    assert welcome.subject == "Välkommen till Kultur i Öresund"
    assert welcome.text == "Hej Åsa!\n\nNu får du Kultur i Öresund."
    await run_mailer(settings, burst=True)
    messages = smtp_server.to("asa@example.org")
    assert len(messages) == 2  # the confirmation and one welcome
    parsed = messages[1].parsed()
    assert str(parsed["Subject"]) == "Välkommen till Kultur i Öresund"
    assert parsed["Auto-Submitted"] == "auto-generated"
    statuses = {
        list_id: row["status"] for list_id, row in (await all_subscriptions(engine)).items()
    }
    assert set(statuses.values()) == {"confirmed"}


async def test_a_broken_welcome_template_never_blocks_the_confirmation(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    await _set_list(
        engine,
        lists["kultur"],
        welcome_subject_da="Velkommen",
        welcome_body_da="{{ subscriber.__class__.__mro__ }} {{ nope.missing }}",
    )
    await subscribe_json(client)
    [confirmation] = await queued_mails(redis)
    await redis.flushdb()

    response = await client.post(f"/confirm/{confirm_token(confirmation)}")

    assert response.status_code == 200
    assert (await all_subscriptions(engine))[lists["kultur"]]["status"] == "confirmed"
    assert await queued_mails(redis) == []


async def test_lists_without_double_opt_in_are_confirmed_at_once(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    await _set_list(engine, lists["born"], double_optin=False, **WELCOME_SV)

    only_single = await subscribe_json(
        client,
        email="a@example.org",
        lists=["born"],
        language="sv",
        name="Your account will be deleted. Keep it at https://evil.example/login",
    )
    [welcome] = await queued_mails(redis)
    assert welcome.category == "welcome" and welcome.to == "a@example.org"
    assert welcome.subject == "Välkommen till Barn och unga"
    # Nobody has confirmed the address: a stranger's name is not put in mail to it.
    assert welcome.text == "Hej du!\n\nNu får du Barn och unga."
    await redis.flushdb()

    mixed = await subscribe_json(
        client, email="b@example.org", lists=["kultur", "born"], language="sv"
    )
    mails = await queued_mails(redis)

    assert only_single.status_code == mixed.status_code == 202
    assert only_single.content == mixed.content  # the answer never tells the difference
    assert sorted(mail.category for mail in mails) == ["confirm", "welcome"]
    [confirmation] = [mail for mail in mails if mail.category == "confirm"]
    _key, list_ids = signer.verify(Purpose.CONFIRM, confirm_token(confirmation))
    assert list_ids == [lists["kultur"]]  # the confirmation covers the double opt-in list only
    assert "Barn och unga" not in confirmation.text
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT list_id, status, confirmed_at FROM subscriptions ORDER BY list_id")
        )
        by_list = [(row.list_id, row.status, row.confirmed_at is not None) for row in rows]
    assert sorted(by_list) == sorted(
        [
            (lists["born"], "confirmed", True),  # a@
            (lists["born"], "confirmed", True),  # b@
            (lists["kultur"], "pending", False),  # b@
        ]
    )


async def test_single_opt_in_sign_up_of_a_confirmed_address_sends_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    await _set_list(engine, lists["born"], double_optin=False, **WELCOME_SV)
    await subscribe_json(client, lists=["born"], language="sv")
    await redis.delete(*await redis.keys("arq:*"), "brevdue:queue:transactional")

    await subscribe_json(client, lists=["born"], language="sv")

    assert await queued_mails(redis) == []


# --- staff edit the texts through the campaigns API ----------------------------------------


@pytest.fixture
async def staff_api(
    settings: Settings, live_server: Any, redis: Redis
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The campaigns app with demo lists, and an admin's headers."""
    await seed_demo(settings)
    token = await create_token(settings, "admin", "welcome test")
    async with (
        live_server(app_for(create_campaigns_app, settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=20, verify=CLIENT_TLS) as http,
    ):
        yield http, {"Authorization": f"Bearer {token}"}


async def test_staff_set_and_remove_welcome_texts_per_language(
    staff_api: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, headers = staff_api
    before = (await http.get("/api/lists/kultur", headers=headers)).json()
    assert before["welcome"] == {"da": None, "sv": None, "en": None}

    text = {"subject": "Velkommen til {{ list.name }}", "body": "Hej {{ subscriber.name }}"}
    response = await http.patch(
        "/api/lists/kultur", headers=headers, json={"welcome": {"da": text, "en": text}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["welcome"] == {"da": text, "sv": None, "en": text}

    response = await http.patch(
        "/api/lists/kultur", headers=headers, json={"welcome": {"en": None}}
    )
    assert response.json()["welcome"] == {"da": text, "sv": None, "en": None}
    response = await http.patch("/api/lists/kultur", headers=headers, json={"is_public": True})
    assert response.json()["welcome"]["da"] == text  # other changes leave it alone


INVALID_WELCOMES = [
    ({"da": {"subject": "", "body": "Hej"}}, "welcome.da.subject"),
    ({"sv": {"subject": "Hej", "body": "  "}}, "welcome.sv.body"),
    ({"en": {"subject": "Hi", "body": "{% if %}"}}, "welcome.en.body"),
    ({"en": {"subject": "Hi {{ campaign.subject }}", "body": "x"}}, "welcome.en.subject"),
    ({"da": {"subject": "Hej", "body": "{{ ''.__class__ }}"}}, "welcome.da.body"),
    ({"da": {"subject": "a\nb", "body": "x"}}, "welcome.da.subject"),
]


async def test_welcome_texts_are_checked_before_they_are_stored(
    staff_api: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    # Every case against one app and database (the set-up cost many times the requests); after
    # each refusal the list still has no welcome text.
    http, headers = staff_api
    for welcome, field in INVALID_WELCOMES:
        response = await http.patch("/api/lists/kultur", headers=headers, json={"welcome": welcome})
        assert response.status_code == 422, (welcome, response.text)
        assert field in response.json()["errors"], (welcome, response.text)
        after = (await http.get("/api/lists/kultur", headers=headers)).json()
        assert after["welcome"] == {"da": None, "sv": None, "en": None}, welcome
