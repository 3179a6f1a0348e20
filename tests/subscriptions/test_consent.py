"""Consent records over real HTTP: requested on sign-up, confirmed, withdrawn, IP by setting."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from services.subscriptions.consent import CONSENT_TEXT, CONSENT_TEXT_VERSION
from services.subscriptions.i18n import load_translations
from services.subscriptions.widget import STATIC_DIR
from shared.schema import subscriptions
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner
from tests.subscriptions.conftest import confirm_token, queued_mails, seed_site, subscribe_json
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
        assert event["form"] == "api"
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
        ("api", CONSENT_TEXT_VERSION, "da")
    }


async def test_a_confirmation_records_only_the_subscriptions_it_changed(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    lists: dict[str, int],
    settings: Settings,
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("holding a row lock while a request waits needs PostgreSQL")
    resident = await sign_up(client, redis, confirm=False, lists=["kultur", "musik"])
    async with engine.connect() as other, engine.connect() as watcher:
        # Another confirmation has confirmed "musik" and not committed yet: the request reads
        # both lists as pending, confirms "kultur" and waits for the lock on "musik".
        transaction = await other.begin()
        await other.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.list_id == lists["musik"])
            .values(status="confirmed", confirmed_at=datetime.now(UTC))
        )
        request = asyncio.create_task(client.post(f"/confirm/{resident.confirm}"))
        for _ in range(200):
            waiting = await watcher.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
            if waiting:
                break
            await asyncio.sleep(0.05)
        assert waiting, "the confirmation never waited for the lock"
        await transaction.commit()
        response = await request

    assert response.status_code == 200
    confirmed = [e for e in await consent_rows(engine) if e["event"] == "confirmed"]
    assert [e["list_id"] for e in confirmed] == [lists["kultur"]]


async def test_widget_and_api_sign_ups_are_recorded_as_such(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    await seed_site(engine, "malmo-bibliotek")

    widget = await subscribe_json(client, site="malmo-bibliotek", via="widget")
    api = await subscribe_json(client, email="ib@example.org", lists=["musik"], via="api")
    unnamed = await subscribe_json(client, email="bo@example.org", lists=["born"])
    unknown = await subscribe_json(client, email="al@example.org", via="fax")

    assert widget.status_code == api.status_code == unnamed.status_code == 202
    assert unknown.status_code == 422
    assert set(unknown.json()["errors"]) == {"via"}
    forms = {e["list_id"]: e["form"] for e in await consent_rows(engine)}
    assert forms == {lists["kultur"]: "widget", lists["musik"]: "api", lists["born"]: "api"}


async def test_the_widget_script_says_it_is_the_widget() -> None:
    script = (STATIC_DIR / "widget.js").read_text()

    assert 'via: "widget"' in script


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
        (lists["kultur"], "requested", "api"),
        (lists["kultur"], "confirmed", "api"),
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
