"""Sending: the fan-out job lands in Redis exactly once; status and counts come from the
mailer's ledger tables."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa
from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from brevdue_cli.redis_server import free_port
from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app
from shared.contracts import StartCampaign
from shared.jobs import deserialize_job
from shared.queues import BULK_QUEUE, START_CAMPAIGN
from shared.schema import campaign_runs, deliveries
from shared.settings import Settings
from tests.campaigns.conftest import CAMPAIGN, Api, new_campaign
from tests.conftest import app_for


async def test_send_enqueues_start_campaign(api: Api, redis: Redis) -> None:
    campaign = await new_campaign(api)
    response = await api.post(f"/api/campaigns/{campaign['id']}/send")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "sending"
    assert body["send_requested_at"] is not None

    job_id = START_CAMPAIGN.job_id(StartCampaign(campaign_id=campaign["id"]))
    assert job_id == f"campaign:{campaign['id']}:start"
    raw = await redis.get(f"arq:job:{job_id}")
    assert raw is not None
    job = deserialize_job(raw)
    assert job["f"] == START_CAMPAIGN.name
    assert START_CAMPAIGN.decode(job["a"][0]) == StartCampaign(campaign_id=campaign["id"])
    assert await redis.zscore(BULK_QUEUE, job_id) is not None

    fetched = (await api.get(f"/api/campaigns/{campaign['id']}")).json()
    assert fetched["status"] == "sending"


async def test_send_twice_is_409_and_one_job(api: Api, redis: Redis) -> None:
    campaign = await new_campaign(api)
    url = f"/api/campaigns/{campaign['id']}/send"
    assert (await api.post(url)).status_code == 202
    again = await api.post(url)
    assert again.status_code == 409
    assert again.json()["errors"] == {"status": "sending"}
    assert "only a draft" in again.json()["error"]
    assert await redis.zcard(BULK_QUEUE) == 1


async def test_concurrent_sends_fan_out_once(api: Api, redis: Redis) -> None:
    campaign = await new_campaign(api)
    url = f"/api/campaigns/{campaign['id']}/send"
    responses = await asyncio.gather(*(api.post(url) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [202, 409, 409, 409, 409]
    assert await redis.zcard(BULK_QUEUE) == 1


async def test_viewer_cannot_send(api: Api, redis: Redis) -> None:
    campaign = await new_campaign(api)
    response = await api.post(f"/api/campaigns/{campaign['id']}/send", role="viewer")
    assert response.status_code == 403
    assert await redis.zcard(BULK_QUEUE) == 0


async def test_counts_and_status_come_from_the_ledger(api: Api, db: AsyncEngine) -> None:
    campaign = await new_campaign(api)
    other = await new_campaign(api)
    campaign_id = campaign["id"]
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    now = datetime.now(UTC)
    async with db.begin() as conn:
        await conn.execute(
            sa.insert(campaign_runs).values(
                campaign_id=campaign_id, state="running", recipients=5, started_at=now
            )
        )
        await conn.execute(
            sa.insert(deliveries),
            [
                {
                    "campaign_id": cid,
                    "subscriber_id": n,
                    "status": status,
                    "attempts": 1,
                    "message_id": f"<{cid}.{n}@kultur.test>",
                    "queued_at": now,
                    "updated_at": now,
                }
                for cid, n, status in [
                    (campaign_id, 1, "sent"),
                    (campaign_id, 2, "sent"),
                    (campaign_id, 3, "failed"),
                    (campaign_id, 4, "queued"),
                    (campaign_id, 5, "queued"),
                    (other["id"], 1, "sent"),
                ]
            ],
        )
    body = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert body["status"] == "sending"
    assert body["counts"] == {"recipients": 5, "sent": 2, "failed": 1, "queued": 2}
    listed = {item["id"]: item for item in (await api.get("/api/campaigns")).json()["items"]}
    assert listed[campaign_id]["counts"] == body["counts"]
    assert listed[other["id"]]["counts"] == {"recipients": 0, "sent": 1, "failed": 0, "queued": 0}

    async with db.begin() as conn:
        await conn.execute(
            sa.update(campaign_runs)
            .where(campaign_runs.c.campaign_id == campaign_id)
            .values(state="finished", finished_at=now)
        )
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["status"] == "sent"
    listed = {item["id"]: item for item in (await api.get("/api/campaigns")).json()["items"]}
    assert listed[campaign_id]["status"] == "sent"
    assert listed[other["id"]]["status"] == "draft"


async def test_send_with_redis_down_is_503_and_stays_draft(
    settings: Settings, live_server: type, redis: Redis
) -> None:
    await seed_demo(settings)
    token = await create_token(settings, "editor")
    app = app_for(create_app, settings)
    async with (
        live_server(app) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}
        ) as client,
    ):
        campaign = (await client.post("/api/campaigns", json=CAMPAIGN)).json()
        url = f"/api/campaigns/{campaign['id']}/send"
        working = app.state.jobs
        # A client for a port nobody listens on: every command fails to connect.
        app.state.jobs = ArqRedis(host="127.0.0.1", port=free_port())
        try:
            response = await client.post(url)
            assert response.status_code == 503
            assert "still a draft" in response.json()["error"]
            draft = (await client.get(f"/api/campaigns/{campaign['id']}")).json()
            assert draft["status"] == "draft" and draft["send_requested_at"] is None
            ready = await client.get("/health/ready")
            assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok"
        finally:
            await app.state.jobs.aclose()
            app.state.jobs = working
        assert (await client.post(url)).status_code == 202
    assert await redis.zcard(BULK_QUEUE) == 1
