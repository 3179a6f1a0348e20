"""Test sends: rendered as a sample or a real subscriber, delivered by the real mailer worker
through the transactional queue to the recording SMTP server, marked as a test, with links
that do nothing, and never counted in the campaign or written to its ledger."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app
from services.mailer.worker import run_worker
from shared.schema import campaigns, deliveries
from shared.settings import Settings
from tests.campaigns.conftest import CAMPAIGN, Api, new_campaign
from tests.campaigns.sending_support import add_subscribers, audit_actions
from tests.mailer.support import FAST
from tests.support.smtp import RecordingSMTPServer


async def test_a_test_send_arrives_marked_and_is_not_counted(
    api: Api, settings: Settings, smtp_server: RecordingSMTPServer, db: AsyncEngine
) -> None:
    campaign = await new_campaign(api, subject="Nyt fra Kulturhuset til {{ subscriber.name }}")
    url = f"/api/campaigns/{campaign['id']}/test"
    response = await api.post(url, json={"to": ["ea@kommune.test", "bo@kommune.test"]})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["rendered_as"] == "sample"
    assert body["subject"] == "[TEST] Nyt fra Kulturhuset til Maja"

    await run_worker(settings, burst=True, options=FAST)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "bo@kommune.test",
        "ea@kommune.test",
    ]
    message = smtp_server.to("ea@kommune.test")[0].parsed()
    assert message["Subject"] == "[TEST] Nyt fra Kulturhuset til Maja"
    assert message["X-Brevdue-Test"] == "1"
    html = message.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "Hej Maja" in content
    # The unsubscribe link of a test leads nowhere: no token of anyone.
    assert 'href="http://subscriptions.test/unsubscribe/test-message"' in content

    fetched = (await api.get(f"/api/campaigns/{campaign['id']}")).json()
    assert fetched["status"] == "draft"
    assert fetched["counts"] == {"recipients": 0, "sent": 0, "failed": 0, "queued": 0}
    progress = (await api.get(f"/api/campaigns/{campaign['id']}/progress")).json()
    assert (progress["recipients"], progress["sent"]) == (0, 0)
    async with db.connect() as conn:
        rows = await conn.execute(sa.select(sa.func.count()).select_from(deliveries))
        assert rows.scalar_one() == 0
    assert ("token:2", "campaign.test_send") in await audit_actions(
        db, f"campaign:{campaign['id']}"
    )


async def test_a_test_rendered_as_a_real_subscriber_cannot_unsubscribe_them(
    api: Api, settings: Settings, smtp_server: RecordingSMTPServer, db: AsyncEngine
) -> None:
    ids = await add_subscribers(db, "kultur", [("karin@example.se", "Karin", "sv")])
    campaign = await new_campaign(api)
    response = await api.post(
        f"/api/campaigns/{campaign['id']}/test",
        json={"to": ["ea@kommune.test"], "subscriber_id": ids["karin@example.se"]},
    )
    assert response.status_code == 202, response.text
    assert response.json()["rendered_as"] == f"subscriber:{ids['karin@example.se']}"
    await run_worker(settings, burst=True, options=FAST)
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["ea@kommune.test"]  # never the subscriber
    text = received.parsed().get_body(("plain",))
    assert text is not None
    assert "Hej Karin" in text.get_content()
    assert "/unsubscribe/test-message" in text.get_content()


async def test_template_errors_name_the_line(api: Api, db: AsyncEngine) -> None:
    campaign = await new_campaign(api)
    async with db.begin() as conn:
        await conn.execute(
            sa.update(campaigns)
            .where(campaigns.c.id == campaign["id"])
            .values(body="<p>Hej</p>\n\n{{ campaign.missing.deeper }}")
        )
    response = await api.post(f"/api/campaigns/{campaign['id']}/test", json={"to": ["a@b.test"]})
    assert response.status_code == 422
    assert response.json()["errors"]["body"].startswith("line 3: ")


async def test_addresses_and_subscribers_are_checked(api: Api) -> None:
    campaign = await new_campaign(api)
    url = f"/api/campaigns/{campaign['id']}/test"
    for body, status in (
        ({"to": []}, 422),
        ({"to": [f"p{n}@kommune.test" for n in range(6)]}, 422),
        ({"to": ["not an address"]}, 422),
        ({"to": ["a@b.test\r\nBcc: x@y.test"]}, 422),
        ({"to": ["a@b.test"], "subscriber_id": 999999}, 404),
        ({"to": ["a@b.test"], "subscriber_id": 2**70}, 404),
        ({"to": "a@b.test"}, 422),
        ({"too": ["a@b.test"]}, 422),
    ):
        response = await api.post(url, json=body)
        assert response.status_code == status, (body, response.text)
    assert (
        await api.post("/api/campaigns/999999/test", json={"to": ["a@b.test"]})
    ).status_code == 404


async def test_test_sends_are_limited_per_caller(
    settings: Settings, live_server: Any, redis: Redis
) -> None:
    await seed_demo(settings)
    limited = dataclasses.replace(settings, test_sends_per_hour=2)
    tokens = [await create_token(settings, "editor", f"editor {n}") for n in (1, 2)]
    async with (
        live_server(create_app(limited)) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        first = {"Authorization": f"Bearer {tokens[0]}"}
        created = await client.post("/api/campaigns", json=CAMPAIGN, headers=first)
        url = f"/api/campaigns/{created.json()['id']}/test"
        body = {"to": ["ea@kommune.test"]}
        for _ in range(2):
            assert (await client.post(url, json=body, headers=first)).status_code == 202
        refused = await client.post(url, json=body, headers=first)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        other = {"Authorization": f"Bearer {tokens[1]}"}
        assert (await client.post(url, json=body, headers=other)).status_code == 202
