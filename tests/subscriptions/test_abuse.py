"""Sign-up abuse protection over real HTTP and Redis: honeypot, rate limits, bombing guard."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.mailer.worker import run_worker as run_mailer
from services.subscriptions.abuse import client_address, limit_key
from services.subscriptions.app import create_app
from shared.errors import SettingsError
from shared.rate_limit import AttemptWindow
from shared.settings import Settings
from tests.subscriptions.conftest import (
    all_subscribers,
    all_subscriptions,
    queued_mails,
    subscribe_json,
)
from tests.support.smtp import RecordingSMTPServer

FORM = {"email": "maja@example.org", "lists": "kultur", "language": "da", "consent": "on"}


@asynccontextmanager
async def serve(
    live_server: Any, settings: Settings, *, proxy_headers: bool = True, **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The subscriptions app with some settings changed, and a client for it."""
    server = live_server(create_app(replace(settings, **changes)))
    # uvicorn itself believes X-Forwarded-For from 127.0.0.1 unless told not to; production
    # runs it with --no-proxy-headers so that BREVDUE_TRUSTED_PROXIES alone decides.
    server.server.config.proxy_headers = proxy_headers
    async with (
        server,
        httpx.AsyncClient(base_url=server.url, follow_redirects=False, timeout=10) as http,
    ):
        yield http


# --- honeypot ----------------------------------------------------------------------------


async def test_honeypot_answers_like_success_and_stores_and_sends_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    form_bot = await client.post("/subscribe", data={**FORM, "website": "http://spam.example"})
    json_bot = await subscribe_json(client, website="http://spam.example")

    assert await all_subscribers(engine) == []
    assert await queued_mails(redis) == []

    form_human = await client.post("/subscribe", data={**FORM, "website": ""})
    json_human = await subscribe_json(client, email="per@example.org")
    assert (form_bot.status_code, form_bot.headers["location"], form_bot.content) == (
        form_human.status_code,
        form_human.headers["location"],
        form_human.content,
    )
    assert (json_bot.status_code, json_bot.content) == (json_human.status_code, json_human.content)
    assert (form_human.status_code, json_human.status_code) == (303, 202)
    assert len(await all_subscribers(engine)) == 2


async def test_sign_up_form_has_a_hidden_honeypot(
    client: httpx.AsyncClient, lists: dict[str, int]
) -> None:
    page = (await client.get("/subscribe?lang=en")).text
    assert 'name="website"' in page
    assert 'tabindex="-1"' in page and 'aria-hidden="true"' in page


# --- rate limits ---------------------------------------------------------------------------


async def test_per_client_limit_answers_429_with_retry_after(
    live_server: Any, settings: Settings, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    async with serve(live_server, settings, signup_limit_per_ip=3) as http:
        for number in range(3):
            response = await subscribe_json(http, email=f"user{number}@example.org")
            assert response.status_code == 202
        refused_json = await subscribe_json(http, email="user0@example.org")  # a known address
        refused_new = await subscribe_json(http, email="nobody@example.org")  # an unknown one
        refused_form = await http.post(
            "/subscribe", data={**FORM, "email": "x@example.org"}, headers={"Accept-Language": "sv"}
        )

    assert refused_json.status_code == 429
    assert refused_json.content == refused_new.content
    assert refused_json.headers["retry-after"] == refused_new.headers["retry-after"]
    assert 0 < int(refused_json.headers["retry-after"]) <= 600
    body = refused_json.json()
    assert body["errors"]["body"].startswith("For mange forsøg")
    assert body["retry_after"] == int(refused_json.headers["retry-after"])
    assert refused_form.status_code == 429
    assert refused_form.headers["content-type"].startswith("text/html")
    assert 0 < int(refused_form.headers["retry-after"]) <= 600
    assert '<html lang="sv">' in refused_form.text and "För många försök" in refused_form.text
    assert len(await all_subscribers(engine)) == 3


async def test_per_address_limit_counts_normalised_addresses_known_or_not(
    live_server: Any, settings: Settings, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    async with serve(live_server, settings, signup_limit_per_address=2) as http:
        assert (await subscribe_json(http, email="Known@Example.ORG")).status_code == 202
        assert (await subscribe_json(http, email="known@example.org")).status_code == 202
        known = await subscribe_json(http, email="KNOWN@example.org")
        # An address never stored, refused only for its own attempts.
        assert (await subscribe_json(http, email="x@ukendt.dk", lists=["nope"])).status_code == 422
        assert (await subscribe_json(http, email="x@ukendt.dk", lists=["nope"])).status_code == 422
        unknown = await subscribe_json(http, email="x@ukendt.dk", lists=["nope"])
        other = await subscribe_json(http, email="other@example.org")

    assert known.status_code == unknown.status_code == 429
    # The same answer for both; only the seconds to wait may differ, by the second between them.
    known_body, unknown_body = known.json(), unknown.json()
    waits = (known_body.pop("retry_after"), unknown_body.pop("retry_after"))
    assert known_body == unknown_body and abs(waits[0] - waits[1]) <= 1
    assert other.status_code == 202
    emails = sorted(row["email"] for row in await all_subscribers(engine))
    # Every spelling is one subscriber, stored as first typed, and one limit covers them all.
    assert emails == ["Known@example.org", "other@example.org"]


async def test_window_slides_and_refused_attempts_do_not_count(redis: Redis) -> None:
    window = AttemptWindow(redis, "test", limit=2, window=1)
    assert [(await window.hit("k")).allowed for _ in range(4)] == [True, True, False, False]
    refused = await window.hit("k")
    assert refused.retry_after == 1
    await asyncio.sleep(1.1)
    assert (await window.hit("k")).allowed
    assert (await window.hit("other")).allowed  # keys are counted apart


async def test_limit_holds_across_processes_under_concurrency(redis_url: str, redis: Redis) -> None:
    # Separate connections stand in for separate service processes sharing one Redis.
    clients = [Redis.from_url(redis_url) for _ in range(4)]
    try:
        windows = [AttemptWindow(c, "burst", limit=10, window=60) for c in clients]
        decisions = await asyncio.gather(*(windows[i % 4].hit("same-key") for i in range(60)))
    finally:
        for c in clients:
            await c.aclose()
    assert sum(d.allowed for d in decisions) == 10
    assert all(0 < d.retry_after <= 60 for d in decisions if not d.allowed)


# --- the client's address ----------------------------------------------------------------


async def test_forwarded_for_is_ignored_unless_the_peer_is_trusted(
    live_server: Any, settings: Settings, redis: Redis, lists: dict[str, int]
) -> None:
    async def statuses(http: httpx.AsyncClient, forwarded: list[str]) -> list[int]:
        codes = []
        for number, value in enumerate(forwarded):
            body = {**FORM, "email": f"f{number}@example.org", "consent": True}
            response = await http.post("/subscribe", json=body, headers={"X-Forwarded-For": value})
            codes.append(response.status_code)
        return codes

    spoofed = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    async with serve(live_server, settings, proxy_headers=False, signup_limit_per_ip=2) as http:
        # Not trusted: every request counts against the peer, 127.0.0.1.
        assert await statuses(http, spoofed) == [202, 202, 429]
    await redis.flushdb()
    async with serve(
        live_server,
        settings,
        proxy_headers=False,
        signup_limit_per_ip=2,
        trusted_proxies=("127.0.0.0/8",),
    ) as http:
        # Trusted: each forwarded client has its own allowance...
        assert await statuses(http, spoofed) == [202, 202, 202]
        # ...and what a client prepends itself does not give it a new one.
        chain = ["1.1.1.1, 198.51.100.7", "2.2.2.2, 198.51.100.7", "198.51.100.7"]
        assert await statuses(http, chain) == [202, 202, 429]


def test_client_address_reads_forwarded_for_from_the_right() -> None:
    trusted = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))
    assert client_address("192.0.2.9", ["198.51.100.1"], trusted) == "192.0.2.9"
    assert client_address("10.0.0.2", ["6.6.6.6, 198.51.100.1"], trusted) == "198.51.100.1"
    assert client_address("10.0.0.2", ["198.51.100.1, 10.0.0.3"], trusted) == "198.51.100.1"
    assert client_address("10.0.0.2", ["198.51.100.1", "10.0.0.3"], trusted) == "198.51.100.1"
    assert client_address("10.0.0.2", ["not-an-ip"], trusted) == "10.0.0.2"
    assert client_address("10.0.0.2", [], trusted) == "10.0.0.2"
    assert client_address("::1", ["[2001:db8::5]"], trusted) == "2001:db8::5"
    assert client_address(None, ["198.51.100.1"], trusted) == "unknown"


def test_ipv6_clients_are_counted_per_64() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::2")
    assert limit_key("2001:db8:1:2::1") != limit_key("2001:db8:1:3::1")
    assert limit_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert limit_key("192.0.2.1") == "192.0.2.1"


# --- bombing guard -------------------------------------------------------------------------


async def test_at_most_n_confirmation_mails_a_day_with_the_same_answer(
    live_server: Any,
    settings: Settings,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    smtp_server: RecordingSMTPServer,
) -> None:
    async with serve(live_server, settings, signup_limit_per_address=50) as http:
        answers = [
            (r.status_code, r.content)
            for r in [await subscribe_json(http, email="asa@example.org") for _ in range(5)]
        ]
        other = await subscribe_json(http, email="bo@example.org")

    assert len(set(answers)) == 1 and answers[0][0] == 202
    assert other.status_code == 202
    # The repeats re-sent the confirmation, up to the daily cap of 3; the rows stay pending.
    assert (await all_subscriptions(engine))[lists["kultur"]]["status"] == "pending"
    await run_mailer(settings, burst=True)
    assert len(smtp_server.to("asa@example.org")) == 3
    assert len(smtp_server.to("bo@example.org")) == 1


async def test_cap_is_a_setting(
    live_server: Any, settings: Settings, redis: Redis, lists: dict[str, int]
) -> None:
    async with serve(live_server, settings, confirm_mails_per_address_per_day=1) as http:
        for _ in range(3):
            assert (await subscribe_json(http)).status_code == 202
    assert len(await queued_mails(redis)) == 1


# --- settings ------------------------------------------------------------------------------

KEY = "k" * 32


def test_abuse_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "BREVDUE_SECRET_KEYS": KEY,
            "BREVDUE_SIGNUP_LIMIT_PER_IP": "50",
            "BREVDUE_SIGNUP_LIMIT_IP_WINDOW": "60",
            "BREVDUE_SIGNUP_LIMIT_PER_ADDRESS": "2",
            "BREVDUE_SIGNUP_LIMIT_ADDRESS_WINDOW": "7200",
            "BREVDUE_CONFIRM_MAILS_PER_DAY": "1",
            "BREVDUE_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16, ::1",
            "BREVDUE_SIGNUP_MIN_DURATION": "0",
            "BREVDUE_CHECK_MX": "true",
            "BREVDUE_MX_CHECK_TIMEOUT": "1.5",
            "BREVDUE_MX_CHECK_NAMESERVERS": "127.0.0.1:5353, [::1]:53, 9.9.9.9",
            "BREVDUE_PURGE_UNCONFIRMED_AFTER_DAYS": "14",
        }
    )
    assert (settings.signup_limit_per_ip, settings.signup_limit_ip_window) == (50, 60)
    assert (settings.signup_limit_per_address, settings.signup_limit_address_window) == (2, 7200)
    assert settings.confirm_mails_per_address_per_day == 1
    assert settings.trusted_proxies == ("10.0.0.1/32", "192.168.0.0/16", "::1/128")
    assert settings.signup_min_duration == 0
    assert settings.check_mx is True and settings.mx_check_timeout == 1.5
    assert settings.mx_check_nameservers == ("127.0.0.1:5353", "[::1]:53", "9.9.9.9")
    assert settings.purge_unconfirmed_after_days == 14


def test_abuse_defaults() -> None:
    settings = Settings.from_env({"BREVDUE_SECRET_KEYS": KEY})
    assert (settings.signup_limit_per_ip, settings.signup_limit_ip_window) == (20, 600)
    assert (settings.signup_limit_per_address, settings.signup_limit_address_window) == (5, 3600)
    assert settings.confirm_mails_per_address_per_day == 3
    assert settings.trusted_proxies == ()
    assert settings.check_mx is False
    assert settings.purge_unconfirmed_after_days == 30


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIGNUP_LIMIT_PER_IP", "0"),
        ("SIGNUP_LIMIT_ADDRESS_WINDOW", "soon"),
        ("CONFIRM_MAILS_PER_DAY", "-1"),
        ("TRUSTED_PROXIES", "proxy.internal"),
        ("SIGNUP_MIN_DURATION", "-0.1"),
        ("CHECK_MX", "maybe"),
        ("MX_CHECK_TIMEOUT", "0"),
        ("MX_CHECK_NAMESERVERS", "dns.example"),
        ("MX_CHECK_NAMESERVERS", "127.0.0.1:99999"),
        ("PURGE_UNCONFIRMED_AFTER_DAYS", "0"),
    ],
)
def test_bad_abuse_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"BREVDUE_{name}"):
        Settings.from_env({"BREVDUE_SECRET_KEYS": KEY, f"BREVDUE_{name}": value})
