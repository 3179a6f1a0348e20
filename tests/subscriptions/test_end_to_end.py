"""Sign up over HTTP, let the mailer deliver the confirmation over SMTP, click the link."""

from __future__ import annotations

import re

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.settings import Settings
from tests.subscriptions.conftest import all_subscriptions, subscribe_json
from tests.support.smtp import RecordingSMTPServer


async def test_confirmation_mail_arrives_and_its_link_confirms(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    worker = pytest.importorskip("services.mailer.worker")
    await subscribe_json(client, email="asa@københavn.dk", name="Åsa", language="sv")

    await worker.run_worker(settings, burst=True)

    [message] = smtp_server.to("asa@xn--kbenhavn-54a.dk")
    parsed = message.parsed()
    assert "Bekräfta din prenumeration" in str(parsed["Subject"])
    text = parsed.get_body(("plain",))
    assert text is not None
    link = re.search(r"http://subscriptions\.test(/confirm/\S+)", text.get_content())
    assert link
    response = await client.post(link.group(1))
    assert response.status_code == 200
    assert (await all_subscriptions(engine))[lists["kultur"]]["status"] == "confirmed"
