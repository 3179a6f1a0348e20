"""Webhooks fed by the real state changes: a resident signs up and confirms over HTTP, a campaign
is sent by the mailer, its mail bounces through the mailer's bounce path, and the resident
unsubscribes with one click. A receiver on a real port sees each event, signed, with the
resident's key and never the address."""

from __future__ import annotations

import dataclasses
import re
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa

from brevdue_cli.redis_server import free_port
from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app as create_campaigns_app
from services.mailer.inbound import InboundRuntime, record_delivery_event
from services.mailer.worker import run_worker
from services.subscriptions.app import create_app as create_subscriptions_app
from shared.db import create_engine
from shared.schema import subscribers
from shared.settings import Settings
from tests.conftest import LiveServer
from tests.support.smtp import RecordingSMTPServer
from tests.support.webhook_receiver import WebhookReceiver, verify

EMAIL = "anne.sorensen@example.dk"


def _confirm_link(message: EmailMessage) -> str:
    text = message.get_body(("plain",))
    assert text is not None
    [link] = re.findall(r"https?://[^\s<>\"]+/confirm/[A-Za-z0-9._\-]+", text.get_content())
    return str(link)


async def _subscriber(settings: Settings) -> tuple[int, str]:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(subscribers.c.id, subscribers.c.key).where(
                        subscribers.c.email == EMAIL
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return int(row.id), str(row.key)


async def test_state_changes_reach_the_receiver(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: object
) -> None:
    subs_port, camps_port = free_port(), free_port()
    settings = dataclasses.replace(
        settings,
        subscriptions_public_url=f"http://127.0.0.1:{subs_port}",
        campaigns_public_url=f"http://127.0.0.1:{camps_port}",
        webhook_allow_loopback_http=True,
        webhook_poll_interval=0.05,
    )
    await seed_demo(settings)
    staff = {"Authorization": f"Bearer {await create_token(settings, 'admin', 'webhooks')}"}
    receiver = WebhookReceiver()

    async with (
        LiveServer(receiver) as hooks,
        LiveServer(create_subscriptions_app(settings), subs_port) as subs,
        LiveServer(create_campaigns_app(settings), camps_port) as camps,
        httpx.AsyncClient(timeout=30) as http,
    ):
        response = await http.post(
            f"{camps.url}/api/webhooks",
            headers=staff,
            json={
                "url": f"{hooks.url}/in",
                "events": [
                    "subscriber.subscribed",
                    "subscriber.confirmed",
                    "subscriber.unsubscribed",
                    "subscriber.bounced",
                    "campaign.sent",
                ],
            },
        )
        assert response.status_code == 201, response.text
        secret = response.json()["secret"]

        signup = {"email": EMAIL, "name": "Anne", "language": "da", "lists": ["kultur"]}
        response = await http.post(f"{subs.url}/subscribe", data={**signup, "consent": "on"})
        assert response.status_code == 303, response.text
        [subscribed] = await receiver.wait_for(1)
        subscriber_id, key = await _subscriber(settings)

        await run_worker(settings, burst=True)
        [mail] = smtp_server.to(EMAIL)
        assert (await http.post(_confirm_link(mail.parsed()))).status_code == 200
        confirmed = (await receiver.wait_for(2))[1]

        response = await http.post(
            f"{camps.url}/api/campaigns",
            headers=staff,
            json={"subject": "Nyt", "body": "<p>Hej!</p>", "lists": ["kultur"]},
        )
        campaign_id = response.json()["id"]
        send = await http.post(f"{camps.url}/api/campaigns/{campaign_id}/send", headers=staff)
        assert send.status_code == 202, send.text
        smtp_server.handler.messages.clear()
        await run_worker(settings, burst=True)
        sent = (await receiver.wait_for(3))[2]

        [campaign_mail] = smtp_server.to(EMAIL)
        unsubscribe_url = campaign_mail.parsed()["List-Unsubscribe"].strip("<>")
        inbound = await InboundRuntime.open(settings)
        try:
            assert await record_delivery_event(
                inbound, campaign_id, subscriber_id, "hard", code=550, description="5.1.1"
            )
        finally:
            await inbound.close()
        bounced = (await receiver.wait_for(4))[3]

        one_click = await http.post(unsubscribe_url, content=b"List-Unsubscribe=One-Click")
        assert one_click.status_code == 200
        unsubscribed = (await receiver.wait_for(5))[4]

    events = [subscribed, confirmed, sent, bounced, unsubscribed]
    assert all(verify(secret, got) for got in events)
    bodies: list[dict[str, Any]] = [got.json() for got in events]
    assert [body["type"] for body in bodies] == [
        "subscriber.subscribed",
        "subscriber.confirmed",
        "campaign.sent",
        "subscriber.bounced",
        "subscriber.unsubscribed",
    ]
    assert bodies[0]["data"] == {"subscriber": key, "lists": ["kultur"]}
    assert bodies[1]["data"] == {"subscriber": key, "lists": ["kultur"]}
    assert bodies[2]["data"] == {"campaign_id": campaign_id, "recipients": 1}
    assert bodies[3]["data"] == {"subscriber": key, "lists": [], "campaign_id": campaign_id}
    assert bodies[4]["data"] == {"subscriber": key, "lists": ["kultur"], "campaign_id": campaign_id}
    assert all(b"example.dk" not in got.body and b"Anne" not in got.body for got in events)
