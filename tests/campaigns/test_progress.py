"""A campaign's progress figures, read from the mailer's ledger and run and the subscriptions
service's audit log: counts by outcome, messages per minute, rate and estimated finish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import audit_log, campaign_runs, deliveries
from tests.campaigns.conftest import Api, new_campaign


async def _ledger(
    db: AsyncEngine, campaign_id: int, rows: list[tuple[str, datetime | None]], now: datetime
) -> None:
    async with db.begin() as conn:
        await conn.execute(
            sa.insert(campaign_runs).values(
                campaign_id=campaign_id,
                state="sending",
                recipients=len(rows),
                started_at=now - timedelta(minutes=10),
                fanned_out_at=now - timedelta(minutes=10),
            )
        )
        await conn.execute(
            sa.insert(deliveries),
            [
                {
                    "campaign_id": campaign_id,
                    "subscriber_id": number + 1,
                    "status": status,
                    "attempts": 1,
                    "message_id": f"<m{number}@test>",
                    "queued_at": now - timedelta(minutes=10),
                    "updated_at": sent_at or now,
                    "sent_at": sent_at,
                }
                for number, (status, sent_at) in enumerate(rows)
            ],
        )


async def test_progress_counts_every_outcome(api: Api, db: AsyncEngine) -> None:
    campaign = await new_campaign(api)
    campaign_id = campaign["id"]
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    two_ago, one_ago = now - timedelta(minutes=2), now - timedelta(minutes=1)
    rows: list[tuple[str, datetime | None]] = [
        *[("sent", two_ago)] * 4,
        *[("sent", one_ago)] * 6,
        ("failed", None),
        ("bounced", None),
        ("skipped", None),
        *[("queued", None)] * 7,
    ]
    await _ledger(db, campaign_id, rows, now)
    async with db.begin() as conn:
        for ref, campaign_ref in (("a", campaign_id), ("a", campaign_id), ("b", campaign_id + 1)):
            await conn.execute(
                sa.insert(audit_log).values(
                    at=now,
                    actor="resident",
                    action="unsubscribed",
                    subscriber_ref=ref,
                    details={"via": "link", "campaign_id": campaign_ref},
                )
            )

    body = (await api.get(f"/api/campaigns/{campaign_id}/progress", role="viewer")).json()
    assert body["status"] == "sending"
    assert (body["recipients"], body["sent"], body["failed"]) == (20, 10, 1)
    assert (body["bounced"], body["skipped"], body["waiting"]) == (1, 1, 7)
    assert body["unsubscribed"] == 1
    assert body["percent"] == 65.0
    minutes = [(point["minute"][11:16], point["sent"]) for point in body["per_minute"]]
    assert minutes == [
        (two_ago.strftime("%H:%M"), 4),
        (one_ago.strftime("%H:%M"), 6),
    ]
    # Ten messages in the last five minutes: two a minute, seven left, about 3.5 minutes.
    assert body["rate_per_minute"] == 2.0
    finish = datetime.fromisoformat(body["estimated_finish"])
    assert timedelta(minutes=3) < finish - datetime.now(UTC) < timedelta(minutes=4)


async def test_a_draft_has_no_progress_and_a_finished_run_is_complete(
    api: Api, db: AsyncEngine
) -> None:
    campaign = await new_campaign(api)
    body = (await api.get(f"/api/campaigns/{campaign['id']}/progress")).json()
    assert body["status"] == "draft"
    assert (body["recipients"], body["percent"], body["per_minute"]) == (0, 0.0, [])
    assert body["estimated_finish"] is None

    assert (await api.post(f"/api/campaigns/{campaign['id']}/send")).status_code == 202
    now = datetime.now(UTC)
    await _ledger(db, campaign["id"], [("sent", now), ("skipped", None)], now)
    async with db.begin() as conn:
        await conn.execute(
            sa.update(campaign_runs)
            .where(campaign_runs.c.campaign_id == campaign["id"])
            .values(state="done", finished_at=now)
        )
    body = (await api.get(f"/api/campaigns/{campaign['id']}/progress")).json()
    assert body["status"] == "sent"
    assert body["percent"] == 100.0
    assert body["estimated_finish"] is None
    assert body["finished_at"] is not None
    assert (await api.get("/api/campaigns/999999/progress")).status_code == 404
