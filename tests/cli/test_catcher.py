"""The SMTP catcher and its inbox, over real SMTP and real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from brevdue_cli.catcher import Inbox, start_smtp
from brevdue_cli.inbox import create_inbox_app
from brevdue_cli.redis_server import free_port


def newsletter(to: str = "anna@example.org", subject: str = "Forårsprogram 2027") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "KulturMetropolØresund <nyhedsbrev@kultur.test>"
    message["To"] = to
    message["Subject"] = subject
    message["List-Unsubscribe"] = "<http://subscriptions.test/unsubscribe/abc>"
    message.set_content("Hej Anna,\nse programmet.\n")
    message.add_alternative(
        "<p>Hej Anna, <script>alert(1)</script><b>se programmet</b></p>", subtype="html"
    )
    return message


@pytest.fixture
async def catcher(tmp_path: Path) -> AsyncIterator[tuple[Inbox, int]]:
    inbox = Inbox(limit=3, store=tmp_path / "catcher")
    port = free_port()
    server = await start_smtp(inbox, "127.0.0.1", port)
    yield inbox, port
    server.close()
    await server.wait_closed()


async def test_caught_mail_is_listed_and_readable(catcher: tuple[Inbox, int], live_server) -> None:
    inbox, port = catcher
    await aiosmtplib.send(newsletter(), hostname="127.0.0.1", port=port)

    async with (
        live_server(create_inbox_app(inbox)) as srv,
        httpx.AsyncClient(base_url=srv.url) as client,
    ):
        listing = (await client.get("/api/messages")).json()
        assert [m["subject"] for m in listing] == ["Forårsprogram 2027"]
        assert listing[0]["envelope_to"] == ["anna@example.org"]
        assert listing[0]["from"].startswith("KulturMetropolØresund")
        message_id = listing[0]["id"]

        one = (await client.get(f"/api/messages/{message_id}")).json()
        assert one["text"] == "Hej Anna,\nse programmet.\n"
        assert "<b>se programmet</b>" in one["html"]
        assert ["List-Unsubscribe", "<http://subscriptions.test/unsubscribe/abc>"] in one["headers"]

        index = await client.get("/")
        assert index.status_code == 200
        assert "Forårsprogram 2027" in index.text
        assert f'href="/messages/{message_id}"' in index.text

        page = await client.get(f"/messages/{message_id}")
        assert page.status_code == 200
        assert "<script>" not in page.text  # the HTML part is only inside the sandboxed frame
        assert "<iframe" in page.text and "sandbox" in page.text
        assert "List-Unsubscribe: &lt;http://subscriptions.test/unsubscribe/abc&gt;" in page.text

        part = await client.get(f"/messages/{message_id}/html")
        assert part.headers["content-security-policy"].startswith("sandbox")
        assert "<b>se programmet</b>" in part.text

        eml = await client.get(f"/messages/{message_id}/download")
        assert eml.headers["content-type"].startswith("message/rfc822")
        assert "attachment" in eml.headers["content-disposition"]
        assert b"Subject: " in eml.content

        assert (await client.get("/api/messages/999")).status_code == 404


async def test_inbox_is_bounded_newest_first_and_clearable(
    catcher: tuple[Inbox, int], live_server, tmp_path: Path
) -> None:
    inbox, port = catcher
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
        for n in range(5):
            await smtp.send_message(newsletter(subject=f"Nummer {n}"))

    async with (
        live_server(create_inbox_app(inbox)) as srv,
        httpx.AsyncClient(base_url=srv.url) as client,
    ):
        listing = (await client.get("/api/messages")).json()
        assert [m["subject"] for m in listing] == ["Nummer 4", "Nummer 3", "Nummer 2"]
        assert len(list((tmp_path / "catcher").glob("*.eml"))) == 3

        # A restarted catcher finds the kept messages again.
        reloaded = Inbox(limit=3, store=tmp_path / "catcher")
        assert [m.header("Subject") for m in reloaded.newest_first()] == [
            "Nummer 4",
            "Nummer 3",
            "Nummer 2",
        ]

        cleared = await client.post("/clear")
        assert cleared.status_code == 303
        assert (await client.get("/api/messages")).json() == []
        assert list((tmp_path / "catcher").glob("*.eml")) == []
        assert "Nothing yet" in (await client.get("/")).text
