"""Consent records over real HTTP: requested on sign-up, confirmed, withdrawn, IP by setting."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from services.subscriptions.consent import CONSENT_TEXT, CONSENT_TEXT_VERSION
from services.subscriptions.i18n import load_translations
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner
from tests.subscriptions.conftest import confirm_token, queued_mails, seed_site
from tests.subscriptions.residents import audit_rows, consent_rows, sign_up


async def test_a_json_sign_up_records_one_request_per_list(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    site_id = await seed_site(engine, "malmo-bibliotek")

    await sign_up(
        client,
        redis,
        confirm=False,
        lists=["kultur", "musik"],
        language="sv",
        site="malmo-bibliotek",
    )

    events = await consent_rows(engine)
    assert [(e["list_id"], e["event"]) for e in events] == [
        (lists["kultur"], "requested"),
        (lists["musik"], "requested"),
    ]
    for event in events:
        assert event["form"] == "json"
        assert event["source_site_id"] == site_id
        assert event["consent_text_version"] == CONSENT_TEXT_VERSION
        assert event["language"] == "sv"
        assert event["ip"] is None  # off by default
        assert event["at"] is not None


async def test_confirming_records_confirmations_carrying_the_request(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    resident = await sign_up(client, redis, confirm=False, lists=["kultur", "born"])

    await client.post(f"/confirm/{resident.confirm}")
    await client.post(f"/confirm/{resident.confirm}")  # twice: recorded once

    confirmed = [e for e in await consent_rows(engine) if e["event"] == "confirmed"]
    assert sorted(e["list_id"] for e in confirmed) == sorted([lists["kultur"], lists["born"]])
    assert {(e["form"], e["consent_text_version"], e["language"]) for e in confirmed} == {
        ("json", CONSENT_TEXT_VERSION, "da")
    }


async def test_a_repeated_sign_up_records_a_new_request_but_confirmed_lists_stay_quiet(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await sign_up(client, redis, lists=["kultur"])

    response = await client.post(
        "/subscribe",
        data={
            "email": "maja@example.org",
            "lists": ["kultur", "musik"],
            "language": "da",
            "consent": "on",
        },
    )

    assert response.status_code == 303
    events = [(e["list_id"], e["event"], e["form"]) for e in await consent_rows(engine)]
    assert events == [
        (lists["kultur"], "requested", "json"),
        (lists["kultur"], "confirmed", "json"),
        (lists["musik"], "requested", "form"),
    ]


async def test_the_unsubscribe_link_records_withdrawals_and_an_audit_entry(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    settings: Settings,
) -> None:
    resident = await sign_up(client, redis, lists=["kultur", "musik"])
    [subscriber_key] = TokenSigner(settings.secret_keys).verify(
        Purpose.PREFERENCES, resident.preferences
    )
    token = TokenSigner(settings.secret_keys).sign(Purpose.UNSUBSCRIBE, [subscriber_key, 42])

    response = await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    withdrawn = [e for e in await consent_rows(engine) if e["event"] == "withdrawn"]
    assert sorted(e["list_id"] for e in withdrawn) == sorted([lists["kultur"], lists["musik"]])
    assert {e["form"] for e in withdrawn} == {"link"}
    [entry] = [e for e in await audit_rows(engine) if e["action"] == "unsubscribed"]
    assert entry["details"] == {"via": "link", "campaign_id": 42, "lists": 2}
    assert len(entry["subscriber_ref"]) == 64 and "@" not in entry["subscriber_ref"]


async def test_the_ip_is_recorded_only_when_the_setting_asks_for_it(
    settings: Settings,
    live_server: type,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
) -> None:
    recording = dataclasses.replace(settings, record_consent_ip=True)
    async with (
        live_server(create_app(recording)) as server,  # type: ignore[attr-defined]
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        resident = await sign_up(http, redis, confirm=False)
        await http.post(f"/confirm/{resident.confirm}")

    events = await consent_rows(engine)
    assert [e["event"] for e in events] == ["requested", "confirmed"]
    assert {e["ip"] for e in events} == {"127.0.0.1"}


@pytest.mark.parametrize("lang", ["da", "sv", "en"])
async def test_the_form_shows_the_consent_text_of_the_recorded_version(
    client: httpx.AsyncClient, lists: dict[str, int], lang: str
) -> None:
    text = load_translations()[lang].gettext(CONSENT_TEXT)

    response = await client.get(f"/subscribe?lang={lang}")

    assert text in response.text
    if lang != "en":
        assert text != CONSENT_TEXT  # really translated


async def test_the_confirmation_mail_carries_the_preferences_link(
    client: httpx.AsyncClient, redis: Redis, lists: dict[str, int]
) -> None:
    response = await client.post(
        "/subscribe",
        json={"email": "ib@example.org", "lists": ["kultur"], "language": "en", "consent": True},
    )
    assert response.status_code == 202
    [mail] = await queued_mails(redis)
    assert confirm_token(mail)
    assert "Manage your newsletters and your data: http://subscriptions.test/preferences/" in (
        mail.text
    )
