"""Scheduling a campaign over the API, and the scheduler that starts it: a time in a zone is
stored in UTC and shown back in it; past, skipped and repeated (DST) local times are refused
with a reason; a due campaign starts exactly once, across a restart and between two replicas.

The scheduler tests use the real service on a real port with a short poll interval
(``schedule_poll_interval``) and times a second or two ahead, so nothing waits a minute.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from brevdue_cli.redis_server import free_port
from services.campaigns import scheduling
from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app
from services.campaigns.errors import Unavailable
from shared.db import create_sessionmaker
from shared.jobs import create_job_pool
from shared.queues import BULK_QUEUE
from shared.schema import campaign_lists, campaigns
from shared.settings import Settings
from tests.campaigns.conftest import CAMPAIGN, Api, new_campaign
from tests.campaigns.sending_support import (
    audit_actions,
    eventually,
    local_soon,
    next_change,
    summer_day,
    winter_day,
)

START_JOB = "arq:job:campaign:{}:start"


async def _schedule(api: Api, campaign_id: int, at: str, zone: str = "Europe/Copenhagen") -> Any:
    return await api.post(f"/api/campaigns/{campaign_id}/schedule", json={"at": at, "zone": zone})


async def test_a_local_time_is_stored_in_utc_and_shown_in_its_zone(api: Api) -> None:
    campaign = await new_campaign(api)
    day = summer_day()  # UTC+2 in both zones
    response = await _schedule(api, campaign["id"], f"{day}T09:30")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["scheduled_at"] == f"{day}T07:30:00Z"
    assert body["schedule_zone"] == "Europe/Copenhagen"
    assert body["scheduled_local"] == f"{day}T09:30:00+02:00"

    winter = winter_day()  # UTC+1
    again = await _schedule(api, campaign["id"], f"{winter}T18:00", "Europe/Stockholm")
    assert again.status_code == 200, again.text
    assert again.json()["scheduled_at"] == f"{winter}T17:00:00Z"
    assert again.json()["scheduled_local"] == f"{winter}T18:00:00+01:00"
    fetched = (await api.get(f"/api/campaigns/{campaign['id']}")).json()
    assert fetched["schedule_zone"] == "Europe/Stockholm"


async def test_a_time_with_an_offset_is_taken_as_it_is(api: Api) -> None:
    campaign = await new_campaign(api)
    day = summer_day()
    response = await _schedule(api, campaign["id"], f"{day}T12:00:00+00:00")
    assert response.status_code == 200, response.text
    assert response.json()["scheduled_at"] == f"{day}T12:00:00Z"
    assert response.json()["scheduled_local"] == f"{day}T14:00:00+02:00"


async def test_the_hour_skipped_in_spring_is_refused_with_a_reason(api: Api) -> None:
    campaign = await new_campaign(api)
    day = next_change(3)
    response = await _schedule(api, campaign["id"], f"{day}T02:30")
    assert response.status_code == 422
    body = response.json()
    assert "does not exist" in body["error"]
    assert "skipped when summer time begins in Europe/Copenhagen" in body["errors"]["at"]
    # Just outside the gap is fine: 03:00 is already summer time.
    assert (await _schedule(api, campaign["id"], f"{day}T03:00")).status_code == 200


async def test_the_hour_repeated_in_autumn_is_refused_unless_the_offset_says_which(
    api: Api,
) -> None:
    campaign = await new_campaign(api)
    day = next_change(10)
    response = await _schedule(api, campaign["id"], f"{day}T02:30", "Europe/Stockholm")
    assert response.status_code == 422
    body = response.json()
    assert "happens twice" in body["error"]
    assert f"{day}T02:30+02:00 for the first" in body["errors"]["at"]
    assert f"{day}T02:30+01:00 for the" in body["errors"]["at"]

    second = await _schedule(api, campaign["id"], f"{day}T02:30+01:00", "Europe/Stockholm")
    assert second.status_code == 200, second.text
    assert second.json()["scheduled_at"] == f"{day}T01:30:00Z"


async def test_past_times_unknown_zones_and_nonsense_are_refused(api: Api) -> None:
    campaign = await new_campaign(api)
    url = f"/api/campaigns/{campaign['id']}/schedule"
    past = await _schedule(api, campaign["id"], local_soon(-60))
    assert past.status_code == 422
    assert "has passed" in past.json()["error"]
    for body in (
        {"at": local_soon(3600), "zone": "Europe/Berlin"},
        {"at": "tomorrow at nine"},
        {"at": "2026-13-45T25:61"},
        {"at": local_soon(400 * 86400)},
        {"at": "0001-01-01T00:00"},
        {"at": "0001-01-01T00:00+05:00"},
        {"at": "9999-12-31T23:59-05:00"},
        {"zone": "Europe/Copenhagen"},
        {"at": 12},
    ):
        response = await api.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await api.post(url, content=b"{")).status_code == 400
    fetched = (await api.get(f"/api/campaigns/{campaign['id']}")).json()
    assert fetched["status"] == "draft"
    assert fetched["scheduled_at"] is None


async def test_a_campaign_that_cannot_be_sent_is_not_scheduled(api: Api, db: AsyncEngine) -> None:
    campaign = await new_campaign(api)
    async with db.begin() as conn:
        await conn.execute(
            sa.update(campaigns)
            .where(campaigns.c.id == campaign["id"])
            .values(body="<p>Hej</p>\n<p>{{ subscriber.nickname.first }}</p>")
        )
    response = await _schedule(api, campaign["id"], local_soon(3600))
    assert response.status_code == 422
    assert response.json()["errors"]["body"].startswith("line 2: ")

    other = await new_campaign(api)
    async with db.begin() as conn:
        await conn.execute(
            sa.delete(campaign_lists).where(campaign_lists.c.campaign_id == other["id"])
        )
    response = await _schedule(api, other["id"], local_soon(3600))
    assert response.status_code == 422
    assert "lists" in response.json()["errors"]
    # Send now runs the same checks.
    assert (await api.post(f"/api/campaigns/{other['id']}/send")).status_code == 422


async def test_unschedule_returns_a_waiting_campaign_to_draft(api: Api, db: AsyncEngine) -> None:
    campaign = await new_campaign(api)
    url = f"/api/campaigns/{campaign['id']}"
    assert (await api.post(url + "/unschedule")).status_code == 409  # a draft waits for nothing
    assert (await _schedule(api, campaign["id"], local_soon(3600))).status_code == 200
    response = await api.post(url + "/unschedule")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "draft"
    assert response.json()["scheduled_at"] is None
    # A draft again: it can be edited, and sent.
    assert (await api.patch(url, json={"subject": "Ny titel"})).status_code == 200
    assert (await api.post(url + "/send")).status_code == 202
    assert (await api.post(url + "/unschedule")).status_code == 409
    late = await _schedule(api, campaign["id"], local_soon(3600))
    assert late.status_code == 409
    assert await audit_actions(db, f"campaign:{campaign['id']}") == [
        ("token:2", "campaign.create"),
        ("token:2", "campaign.schedule"),
        ("token:2", "campaign.unschedule"),
        ("token:2", "campaign.update"),
        ("token:2", "campaign.send"),
    ]


async def test_a_scheduled_campaign_cannot_be_edited_while_it_waits(api: Api) -> None:
    campaign = await new_campaign(api)
    assert (await _schedule(api, campaign["id"], local_soon(3600))).status_code == 200
    edit = await api.patch(f"/api/campaigns/{campaign['id']}", json={"subject": "Ændret"})
    assert edit.status_code == 409


def _fast(settings: Settings) -> Settings:
    return dataclasses.replace(settings, schedule_poll_interval=0.1)


async def test_the_scheduler_starts_a_due_campaign_once(
    api: Api, settings: Settings, live_server: Any, redis: Redis, db: AsyncEngine
) -> None:
    campaign = await new_campaign(api)
    assert (await _schedule(api, campaign["id"], local_soon(1.5))).status_code == 200
    async with live_server(create_app(_fast(settings))):

        async def started() -> bool:
            return (await api.get(f"/api/campaigns/{campaign['id']}")).json()["status"] == "sending"

        await eventually(started)
        await asyncio.sleep(0.5)  # a few more polls: nothing more happens
    assert await redis.exists(START_JOB.format(campaign["id"]))
    assert await redis.zcard(BULK_QUEUE) == 1
    actions = await audit_actions(db, f"campaign:{campaign['id']}")
    assert actions.count(("system", "campaign.send")) == 1


async def test_a_time_that_passed_while_the_service_was_down_starts_once_on_return(
    settings: Settings, live_server: Any, redis: Redis, db: AsyncEngine
) -> None:
    await seed_demo(settings)
    token = await create_token(settings, "editor", "restart test")
    headers = {"Authorization": f"Bearer {token}"}
    # The only replica: it polls rarely, so it is down before the time comes.
    slow = dataclasses.replace(settings, schedule_poll_interval=30)
    async with (
        live_server(create_app(slow)) as server,
        httpx.AsyncClient(base_url=server.url, headers=headers) as client,
    ):
        created = await client.post("/api/campaigns", json=CAMPAIGN)
        campaign_id = created.json()["id"]
        response = await client.post(
            f"/api/campaigns/{campaign_id}/schedule", json={"at": local_soon(1.0)}
        )
        assert response.status_code == 200, response.text
    await asyncio.sleep(1.5)  # the time passes while no service runs
    async with db.connect() as conn:
        status = (
            await conn.execute(sa.select(campaigns.c.status).where(campaigns.c.id == campaign_id))
        ).scalar_one()
    assert status == "scheduled"
    async with live_server(create_app(_fast(settings))):
        await eventually(lambda: redis.exists(START_JOB.format(campaign_id)))
        await asyncio.sleep(0.5)  # more polls change nothing
    actions = await audit_actions(db, f"campaign:{campaign_id}")
    assert actions.count(("system", "campaign.send")) == 1
    assert await redis.zcard(BULK_QUEUE) == 1


async def test_two_replicas_racing_start_it_once(
    settings: Settings, live_server: Any, redis: Redis, db: AsyncEngine, api: Api
) -> None:
    campaigns_ = [await new_campaign(api) for _ in range(3)]
    for campaign in campaigns_:
        assert (await _schedule(api, campaign["id"], local_soon(1.0))).status_code == 200
    fast = dataclasses.replace(settings, schedule_poll_interval=0.02)
    async with live_server(create_app(fast)), live_server(create_app(fast)):
        for campaign in campaigns_:
            await eventually(lambda c=campaign: redis.exists(START_JOB.format(c["id"])))
        await asyncio.sleep(0.5)
    for campaign in campaigns_:
        actions = await audit_actions(db, f"campaign:{campaign['id']}")
        assert actions.count(("system", "campaign.send")) == 1, actions
    assert await redis.zcard(BULK_QUEUE) == 3


async def test_a_due_campaign_stays_scheduled_while_redis_is_away(
    api: Api, settings: Settings, redis: Redis, db: AsyncEngine
) -> None:
    campaign = await new_campaign(api)
    assert (await _schedule(api, campaign["id"], local_soon(0.3))).status_code == 200
    await asyncio.sleep(0.5)
    sessionmaker = create_sessionmaker(db)
    # A client for a port nobody listens on: every command fails to connect.
    away = ArqRedis(host="127.0.0.1", port=free_port())
    async with sessionmaker() as session:
        with pytest.raises(Unavailable, match="still scheduled"):
            await scheduling.start_due(session, away, datetime.now(UTC))
    await away.aclose()
    fetched = (await api.get(f"/api/campaigns/{campaign['id']}")).json()
    assert fetched["status"] == "scheduled"
    assert fetched["send_requested_at"] is None

    jobs = await create_job_pool(settings.redis_url, BULK_QUEUE)
    async with sessionmaker() as session:
        assert await scheduling.start_due(session, jobs, datetime.now(UTC)) == [campaign["id"]]
        assert await scheduling.start_due(session, jobs, datetime.now(UTC)) == []
    await jobs.aclose()
    assert (await api.get(f"/api/campaigns/{campaign['id']}")).json()["status"] == "sending"
    assert await redis.exists(START_JOB.format(campaign["id"]))
