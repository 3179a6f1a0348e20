"""What the logs hold at info level: during a resident's whole path (sign-up, confirmation,
campaign, one-click unsubscribe, preference center) and a staff login (failed, then good), no
address, link token, password, session id, API token or secret key appears in our own log
events or in the HTTP server's access log.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest
import structlog
from redis.asyncio import Redis

from services.campaigns.sessions import COOKIE_NAME
from shared.settings import Settings
from tests.attacks.flow import links, services
from tests.campaigns.staff_support import PASSWORD, create_staff, log_in
from tests.support.smtp import RecordingSMTPServer

RESIDENT = "tove.lund@example.se"
STAFF = "redaktor@kultur.test"
SIGNED_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{5,8}\.[A-Za-z0-9_-]{27,}")


def _forget_cached_loggers() -> None:
    # Module-level structlog loggers keep the configuration of their first use (level and
    # stream); an earlier test's would hide info events from this one.
    for module in list(sys.modules.values()):
        if not module or not module.__name__.startswith(("services.", "shared.")):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, structlog._config.BoundLoggerLazyProxy):
                value.__dict__.pop("bind", None)


@pytest.fixture
def access_log() -> Iterator[logging.StreamHandler[io.StringIO]]:
    """A handler for the HTTP server's access log (the test adds it once the servers run);
    our own loggers start afresh."""
    _forget_cached_loggers()
    handler = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger("uvicorn.access")
    # aiosmtpd logs every envelope at info: it is the test's SMTP relay, not Brevdue.
    relay = logging.getLogger("mail.log")
    relay_level = relay.level
    relay.setLevel(logging.WARNING)
    yield handler
    relay.setLevel(relay_level)
    logger.removeHandler(handler)
    _forget_cached_loggers()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_address_token_password_or_session_in_logs_at_info(
    settings: Settings,
    smtp_server: RecordingSMTPServer,
    redis: Redis,
    capsys: pytest.CaptureFixture[str],
    access_log: logging.StreamHandler[io.StringIO],
) -> None:
    settings = dataclasses.replace(settings, log_level="INFO", log_format="json")
    secrets: dict[str, str] = {"address": RESIDENT, "staff address": STAFF, "password": PASSWORD}
    async with services(settings) as app:
        # The servers configured uvicorn's loggers as they started; listen from here on.
        access = logging.getLogger("uvicorn.access")
        access.setLevel(logging.INFO)
        access.addHandler(access_log)
        secrets["API token"] = app.staff["Authorization"].removeprefix("Bearer ")
        secrets["secret key"] = settings.secret_keys[-1].reveal()

        await create_staff(app.settings, STAFF, "editor", "Redaktør")
        app.http.base_url = app.campaigns  # type: ignore[assignment]
        assert (await log_in(app.http, STAFF, "not the password")).status_code != 303
        assert (await log_in(app.http, STAFF, PASSWORD)).status_code == 303
        secrets["session id"] = app.http.cookies.get(COOKIE_NAME) or ""
        assert (await app.http.get(f"{app.campaigns}/app/")).status_code == 200

        response = await app.http.post(
            f"{app.subscriptions}/subscribe",
            data={"email": RESIDENT, "name": "Tove", "language": "sv", "lists": ["kultur"]}
            | {"consent": "on"},
        )
        assert response.status_code == 303, response.text
        await app.drain_mailer()
        [confirm_url] = links(smtp_server.to(RESIDENT)[0].parsed(), "confirm")
        assert (await app.http.get(confirm_url)).status_code == 200
        assert (await app.http.post(confirm_url)).status_code == 200

        response = await app.staff_post(
            "/api/campaigns",
            json={
                "subject": "Nytt",
                "body": "<p>Hej {{ subscriber.name }}</p>",
                "lists": ["kultur"],
            },
        )
        response = await app.staff_post(f"/api/campaigns/{response.json()['id']}/send")
        assert response.status_code == 202, response.text
        await app.drain_mailer()
        campaign = smtp_server.to(RESIDENT)[-1].parsed()
        [unsubscribe_url] = re.findall(
            r"<(http[^>]+/unsubscribe/[^>]+)>", campaign["List-Unsubscribe"]
        )
        [preferences_url] = links(campaign, "preferences")
        assert (await app.http.get(preferences_url)).status_code == 200
        response = await app.http.post(
            unsubscribe_url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200
        for url in (confirm_url, unsubscribe_url, preferences_url):
            secrets[f"link token {url.split('/')[3]}"] = url.rsplit("/", 1)[-1]

    events = capsys.readouterr().err
    requests = access_log.stream.getvalue()
    # The scan can fail: both logs were written at info level, with the paths of the links.
    records = [json.loads(line) for line in events.splitlines() if line.startswith("{")]
    assert any(
        record.get("event") == "signup.pending" and record.get("level") == "info"
        for record in records
    ), events[-2000:]
    assert re.search(r"POST /confirm/\[token\] HTTP/1.1\" 200", requests), requests
    assert "/unsubscribe/[token]" in requests and "/preferences/[token]" in requests, requests
    assert all(secrets.values()), secrets
    for what, value in secrets.items():
        assert value not in events, f"{what} in the log events"
        assert value not in requests, f"{what} in the access log"
    assert not SIGNED_TOKEN.search(events + requests)
    assert "@" not in requests
