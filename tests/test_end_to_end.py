"""The whole path over real HTTP, Redis and SMTP: sign up → confirm → campaign → delivered →
one-click unsubscribe → no more mail from those lists, other lists still come → "leave all
lists" → no more mail at all. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import re
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx

from brevdue_cli.redis_server import free_port
from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app as create_campaigns_app
from services.mailer.worker import run_worker
from services.subscriptions.app import create_app as create_subscriptions_app
from services.subscriptions.worker import run_worker as run_subscriptions_worker
from shared.settings import Settings
from tests.conftest import LiveServer
from tests.support.smtp import RecordingSMTPServer

RESIDENTS = [
    ("anne.sorensen@example.dk", "Anne Sørensen", "da", ["kultur", "idraet", "boern-unge"]),
    ("bjorn.akesson@example.se", "Björn Åkesson", "sv", ["kultur"]),
    ("carl@example.org", "Carl Ng", "en", ["idraet"]),
]
NEVER_CONFIRMS = ("dorte@example.dk", "Dorte", "da", ["kultur"])


def _links(message: EmailMessage, path: str) -> list[str]:
    text = message.get_body(("plain",))
    assert text is not None
    return re.findall(rf"https?://[^\s<>\"]+/{path}/[A-Za-z0-9._\-]+", text.get_content())


async def _drain_mailer(settings: Settings) -> None:
    await run_worker(settings, burst=True)


async def _send_campaign(
    http: httpx.AsyncClient, campaigns_url: str, staff: dict[str, str], lists: list[str]
) -> int:
    response = await http.post(
        f"{campaigns_url}/api/campaigns",
        headers=staff,
        json={"subject": "Nyt", "body": "<p>Hej!</p>", "lists": lists},
    )
    assert response.status_code == 201, response.text
    campaign_id = int(response.json()["id"])
    response = await http.post(f"{campaigns_url}/api/campaigns/{campaign_id}/send", headers=staff)
    assert response.status_code == 202, response.text
    return campaign_id


async def test_sign_up_confirm_campaign_unsubscribe(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: object
) -> None:
    subs_port, camps_port = free_port(), free_port()
    settings = dataclasses.replace(
        settings,
        subscriptions_public_url=f"http://127.0.0.1:{subs_port}",
        campaigns_public_url=f"http://127.0.0.1:{camps_port}",
    )
    await seed_demo(settings)
    token = await create_token(settings, "admin", "end-to-end test")
    staff = {"Authorization": f"Bearer {token}"}

    async with (
        LiveServer(create_subscriptions_app(settings), subs_port) as subs,
        LiveServer(create_campaigns_app(settings), camps_port) as camps,
        httpx.AsyncClient(timeout=30) as http,
    ):
        # Residents sign up through the public form.
        for email, name, language, lists in [*RESIDENTS, NEVER_CONFIRMS]:
            response = await http.post(
                f"{subs.url}/subscribe",
                data={
                    "email": email,
                    "name": name,
                    "language": language,
                    "lists": lists,
                    "consent": "on",
                },
            )
            assert response.status_code == 303, response.text

        await _drain_mailer(settings)
        assert len(smtp_server.messages) == 4

        # Each confirms with the link in their mail: GET shows a button, POST confirms.
        for email, name, _language, _lists in RESIDENTS:
            [received] = smtp_server.to(email)
            message = received.parsed()
            # Nobody has confirmed the address yet: the name typed with it is not mailed to it.
            assert name not in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            [confirm_url] = _links(message, "confirm")
            assert (await http.get(confirm_url)).status_code == 200
            response = await http.post(confirm_url)
            assert response.status_code == 200
            assert (await http.post(confirm_url)).status_code == 200  # twice is harmless

        # Staff compose and send a campaign to kultur + idraet.
        response = await http.post(
            f"{camps.url}/api/campaigns",
            headers=staff,
            json={
                "subject": "Kulturnyt: sommer på Øresund for {{ subscriber.name }}",
                "body": "<p>Hej {{ subscriber.name }}, här är nyheterna: æøå äö</p>",
                "lists": ["kultur", "idraet"],
            },
        )
        assert response.status_code == 201, response.text
        campaign_id = response.json()["id"]
        response = await http.post(f"{camps.url}/api/campaigns/{campaign_id}/send", headers=staff)
        assert response.status_code == 202, response.text
        smtp_server.handler.messages.clear()

        await _drain_mailer(settings)

        status = (await http.get(f"{camps.url}/api/campaigns/{campaign_id}", headers=staff)).json()
        assert status["status"] == "sent"
        assert status["counts"]["recipients"] == 3
        assert status["counts"]["sent"] == 3
        assert status["counts"]["failed"] == 0

        # Exactly once each; the unconfirmed address gets nothing.
        assert len(smtp_server.messages) == 3
        assert smtp_server.to(NEVER_CONFIRMS[0]) == []
        anne = smtp_server.to(RESIDENTS[0][0])
        assert len(anne) == 1
        raw = anne[0].data
        message = anne[0].parsed()
        assert message["Subject"] == "Kulturnyt: sommer på Øresund for Anne Sørensen"
        assert "æøå äö" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]

        # The unsubscribe headers stand on one line each, as a link, never encoded words.
        [header_line] = [
            line for line in raw.split(b"\r\n") if line.lower().startswith(b"list-unsubscribe:")
        ]
        match = re.match(
            rb"List-Unsubscribe: <(http://127\.0\.0\.1:\d+/unsubscribe/[^>]+)>", header_line
        )
        assert match, header_line
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
        assert b"=?utf-8?" not in header_line.lower()
        assert b"content-transfer-encoding: base64" not in raw.lower()
        unsubscribe_url = match.group(1).decode()
        assert unsubscribe_url in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        # One-click unsubscribe as a mail provider sends it (RFC 8058): 200, no redirect.
        response = await http.post(
            unsubscribe_url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200
        assert "set-cookie" not in response.headers

        # A second campaign reaches the two who stayed, not Anne.
        response = await http.post(
            f"{camps.url}/api/campaigns",
            headers=staff,
            json={
                "subject": "Idræt i weekenden",
                "body": "<p>Hej!</p>",
                "lists": ["kultur", "idraet"],
            },
        )
        second_id = response.json()["id"]
        await http.post(f"{camps.url}/api/campaigns/{second_id}/send", headers=staff)
        smtp_server.handler.messages.clear()
        await _drain_mailer(settings)
        assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == sorted(
            [RESIDENTS[1][0], RESIDENTS[2][0]]
        )

        # One-click left the campaign's lists only: Anne still gets Børn og unge...
        third_id = await _send_campaign(http, camps.url, staff, ["boern-unge"])
        smtp_server.handler.messages.clear()
        await _drain_mailer(settings)
        assert [r for m in smtp_server.messages for r in m.rcpt_tos] == [RESIDENTS[0][0]]
        assert third_id != second_id

        # ...until she leaves every list from the unsubscribe page.
        page = await http.get(unsubscribe_url)
        assert f'action="{urlsplit(unsubscribe_url).path}/all?lang=da"' in page.text
        response = await http.post(f"{unsubscribe_url}/all")
        assert response.status_code == 200
        await _send_campaign(http, camps.url, staff, ["boern-unge"])
        smtp_server.handler.messages.clear()
        await _drain_mailer(settings)
        assert smtp_server.messages == []


async def test_one_mailbox_in_two_spellings_is_one_subscriber_until_erased(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: object
) -> None:
    subs_port, camps_port = free_port(), free_port()
    settings = dataclasses.replace(
        settings,
        subscriptions_public_url=f"http://127.0.0.1:{subs_port}",
        campaigns_public_url=f"http://127.0.0.1:{camps_port}",
    )
    await seed_demo(settings)
    token = await create_token(settings, "admin", "end-to-end test")
    staff = {"Authorization": f"Bearer {token}"}
    mailbox = "case.test@example.dk"
    signups = [
        ("Case.Test@Example.DK", ["kultur"]),
        (mailbox, ["idraet"]),
        ("carl@example.org", ["idraet"]),
    ]

    async def send_campaign() -> list[str]:
        response = await http.post(
            f"{camps.url}/api/campaigns",
            headers=staff,
            json={"subject": "Nyt", "body": "<p>Hej</p>", "lists": ["kultur", "idraet"]},
        )
        assert response.status_code == 201, response.text
        campaign_id = response.json()["id"]
        sent = await http.post(f"{camps.url}/api/campaigns/{campaign_id}/send", headers=staff)
        assert sent.status_code == 202, sent.text
        smtp_server.handler.messages.clear()
        await _drain_mailer(settings)
        return sorted(r.lower() for m in smtp_server.messages for r in m.rcpt_tos)

    async with (
        LiveServer(create_subscriptions_app(settings), subs_port) as subs,
        LiveServer(create_campaigns_app(settings), camps_port) as camps,
        httpx.AsyncClient(timeout=30) as http,
    ):
        for email, lists in signups:
            response = await http.post(
                f"{subs.url}/subscribe",
                data={
                    "email": email,
                    "name": "Case",
                    "language": "da",
                    "lists": lists,
                    "consent": "on",
                },
            )
            assert response.status_code == 303, response.text
        await _drain_mailer(settings)
        # Each sign-up asked for its own list; every confirmation link is followed.
        for received in list(smtp_server.messages):
            for confirm_url in _links(received.parsed(), "confirm"):
                assert (await http.post(confirm_url)).status_code == 200

        # Both lists, one mailbox: one mail, to the address as first typed.
        assert await send_campaign() == ["carl@example.org", mailbox]
        [mail] = smtp_server.to(mailbox)
        assert mail.rcpt_tos == ["Case.Test@example.dk"]
        [preferences_url] = _links(mail.parsed(), "preferences")

        # Staff erase the other spelling: nothing of the mailbox is left.
        response = await http.post(
            f"{camps.url}/api/subscribers/erase", headers=staff, json={"email": mailbox}
        )
        assert response.status_code == 202, response.text
        await run_subscriptions_worker(settings, burst=True)
        assert (await http.get(preferences_url)).status_code == 404
        smtp_server.handler.messages.clear()
        await _drain_mailer(settings)
        [goodbye] = smtp_server.messages  # to the address as typed, rendered before erasure
        assert goodbye.rcpt_tos == ["Case.Test@example.dk"]
        again = await http.post(
            f"{subs.url}/subscribe",
            data={
                "email": "CASE.TEST@example.dk",
                "language": "da",
                "lists": ["kultur"],
                "consent": "on",
            },
        )
        assert again.status_code == 303
        assert await send_campaign() == ["carl@example.org"]
