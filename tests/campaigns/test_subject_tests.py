"""Subject tests end to end: a campaign with three subjects goes to a reproducible sample over
real SMTP, the clicks of each subject's recipients are written by the engagement writer, the
scheduler of the real service picks the winner after the wait, and the mailer sends the rest
with it; nobody gets the campaign twice. Both databases, real Redis, HTTP and mailer worker."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns import queries
from services.campaigns.app import create_app
from services.campaigns.engagement import record_engagement
from services.campaigns.scheduling import Scheduler
from services.campaigns.subject_tests import NO_ENGAGEMENT, TIE, pick_winner
from services.mailer.config import MailerOptions
from services.mailer.worker import run_worker
from shared.db import create_sessionmaker
from shared.events import LinkClicked
from shared.jobs import create_job_pool
from shared.queues import BULK_QUEUE
from shared.schema import campaign_links, deliveries, subscribers
from shared.settings import Settings
from shared.subject_tests import subject_for
from tests.campaigns.conftest import Api, new_campaign
from tests.campaigns.sending_support import add_subscribers
from tests.mailer.support import enqueue_start
from tests.support.smtp import RecordingSMTPServer

FAST = MailerOptions(batch_size=20, chunk_size=10, smtp_connections=3, job_timeout=10)
SUBJECTS = ["Koncert i aften", "Sidste chance: koncert", "Gratis koncert i aften"]
BODY = (
    '<p>Hej {{ subscriber.name }}</p><p><a href="https://kultur.example.dk/program">Program</a></p>'
)
PEOPLE = 100
# Long enough that no scheduler of the tests' apps decides on its own: the tests poll with a
# clock past it (poll_after_the_wait), so none waits and none races the clicks.
WAIT = 600
SHARE = 40


def _test(**changes: Any) -> dict[str, Any]:
    return {
        "other_subjects": SUBJECTS[1:],
        "sample_percent": SHARE,
        "wait_seconds": WAIT,
        "metric": "clicks",
        **changes,
    }


async def poll_after_the_wait(settings: Settings, db: AsyncEngine, wait: float) -> None:
    """Two schedulers poll at once with their clocks ``wait`` seconds ahead: as the replicas'
    polling loops do once a test's wait is over, without the test waiting for it."""
    jobs = await create_job_pool(settings.redis_url, BULK_QUEUE)
    ahead = partial(_ahead, wait)
    try:
        replicas = [Scheduler(create_sessionmaker(db), jobs, 1.0, clock=ahead) for _ in range(2)]
        await asyncio.gather(*(replica.poll() for replica in replicas))
    finally:
        await jobs.aclose()


def _ahead(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def _ledger(db: AsyncEngine, campaign_id: int) -> dict[int, dict[str, Any]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            sa.select(deliveries).where(deliveries.c.campaign_id == campaign_id)
        )
        return {int(row["subscriber_id"]): dict(row) for row in rows.mappings()}


async def _click(db: AsyncEngine, campaign_id: int, ids: list[int]) -> None:
    """The subscribers ``ids`` follow the campaign's tracked link, as the redirect reports it."""
    async with db.connect() as conn:
        link_id = (
            await conn.execute(
                sa.select(campaign_links.c.id).where(campaign_links.c.campaign_id == campaign_id)
            )
        ).scalar_one()
        keys = (
            await conn.execute(sa.select(subscribers.c.key).where(subscribers.c.id.in_(ids)))
        ).scalars()
        events = [LinkClicked(link_id=int(link_id), subscriber_key=k, at=time.time()) for k in keys]
    async with create_sessionmaker(db)() as session:
        assert await record_engagement(session, list(events)) == len(ids)


def _subject(smtp_server: RecordingSMTPServer, address: str) -> str:
    [message] = smtp_server.to(address)  # exactly one mail each: nobody is mailed twice
    return str(message.parsed()["Subject"])


async def test_the_sample_gets_the_subjects_and_the_rest_the_winner(
    api: Api,
    db: AsyncEngine,
    settings: Settings,
    smtp_server: RecordingSMTPServer,
    redis: Redis,
    live_server: Any,
) -> None:
    people = [(f"p{n:03d}@example.dk", f"Person {n}", "da") for n in range(PEOPLE)]
    ids = await add_subscribers(db, "kultur", people)
    address_of = {subscriber: email for email, subscriber in ids.items()}
    campaign = await new_campaign(
        api, subject=SUBJECTS[0], body=BODY, body_text=None, subject_test=_test()
    )
    campaign_id = campaign["id"]
    assert campaign["subject_test"]["subjects"] == SUBJECTS
    sent = await api.post(f"/api/campaigns/{campaign_id}/send")
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "testing"

    await run_worker(settings, burst=True, options=FAST)
    # The sample: the subscribers the shared rule puts in it, each with its subject.
    expected = {s: subject_for(campaign_id, s, SHARE, 3) for s in ids.values()}
    sample = {s: v for s, v in expected.items() if v is not None}
    assert abs(len(sample) - PEOPLE * SHARE / 100) <= 15
    assert set(Counter(sample.values())) == {0, 1, 2}
    ledger = await _ledger(db, campaign_id)
    assert {s: row["subject_variant"] for s, row in ledger.items()} == sample
    assert len(smtp_server.messages) == len(sample)
    for subscriber, variant in sample.items():
        assert _subject(smtp_server, address_of[subscriber]) == SUBJECTS[variant]
    # Recomputed, the sample is the same: a repeated start job adds and changes nothing.
    await enqueue_start(settings, campaign_id, tag="again")
    await run_worker(settings, burst=True, options=FAST)
    assert await _ledger(db, campaign_id) == ledger
    assert len(smtp_server.messages) == len(sample)
    shown = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert shown["status"] == "waiting"
    assert shown["subject_test"]["winner"] is None

    # Half of subject C's recipients click, one of B's, none of A's: C wins on its rate.
    by_subject = {v: sorted(s for s, w in sample.items() if w == v) for v in range(3)}
    c_clickers = by_subject[2][: max(1, len(by_subject[2]) // 2)]
    await _click(db, campaign_id, [*c_clickers, by_subject[1][0]])
    fast = dataclasses.replace(settings, schedule_poll_interval=0.1)
    async with live_server(create_app(fast)):
        await asyncio.sleep(0.3)  # polls before the wait is over decide nothing
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["status"] == "waiting"
    await poll_after_the_wait(settings, db, WAIT + 1)
    shown = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert shown["status"] == "sending"
    test = shown["subject_test"]
    assert (test["winner"], test["reason"]) == (2, "best_rate")
    assert test["explanation"].startswith("Subject C won")
    figures = test["figures"]
    assert [f["sent"] for f in figures] == [len(by_subject[v]) for v in range(3)]
    assert [f["clicks"] for f in figures] == [0, 1, len(c_clickers)]
    assert figures[2]["click_rate"] == round(len(c_clickers) / len(by_subject[2]), 4)

    await run_worker(settings, burst=True, options=FAST)
    final = await _ledger(db, campaign_id)
    assert set(final) == set(ids.values())
    assert all(row["status"] == "sent" for row in final.values())
    assert len(smtp_server.messages) == PEOPLE
    for subscriber, email in address_of.items():
        subject = _subject(smtp_server, email)
        if subscriber in sample:
            assert subject == SUBJECTS[sample[subscriber]]
        else:
            assert subject == SUBJECTS[2], email
            assert final[subscriber]["subject_variant"] is None
    done = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert done["status"] == "sent"
    assert done["counts"]["sent"] == PEOPLE
    # The test's figures stay those of its sample.
    assert [f["sent"] for f in done["subject_test"]["figures"]] == [f["sent"] for f in figures]


async def test_a_cancelled_test_never_goes_to_the_rest(
    api: Api,
    db: AsyncEngine,
    settings: Settings,
    smtp_server: RecordingSMTPServer,
    redis: Redis,
) -> None:
    people = [(f"c{n:03d}@example.dk", f"Person {n}", "da") for n in range(30)]
    await add_subscribers(db, "kultur", people)
    campaign = await new_campaign(api, subject=SUBJECTS[0], body=BODY, subject_test=_test())
    campaign_id = campaign["id"]
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    await run_worker(settings, burst=True, options=FAST)
    sample = len(smtp_server.messages)
    assert 0 < sample < 30
    cancelled = await api.post(f"/api/campaigns/{campaign_id}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    await poll_after_the_wait(settings, db, WAIT + 1)
    await run_worker(settings, burst=True, options=FAST)
    assert len(smtp_server.messages) == sample
    shown = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert shown["subject_test"]["winner"] is None


async def test_settings_that_cannot_work_are_refused(api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"subject_test": _test(other_subjects=[])}, "subject_test.other_subjects"),
        (
            {"subject_test": _test(other_subjects=["a", "b", "c", "d"])},
            "subject_test.other_subjects",
        ),
        ({"subject_test": _test(other_subjects=[SUBJECTS[0]])}, "subject_test.other_subjects"),
        ({"subject_test": _test(sample_percent=0)}, "subject_test.sample_percent"),
        ({"subject_test": _test(sample_percent=95)}, "subject_test.sample_percent"),
        ({"subject_test": _test(wait_seconds=0)}, "subject_test.wait_seconds"),
        ({"subject_test": _test(metric="opens")}, "subject_test.metric"),
        ({"subject_test": _test(other_subjects=["{{ oops"])}, "subject_test.other_subjects.0"),
        (
            {
                "subject_test": _test(),
                "fallback_language": "da",
                "variants": [{"language": "sv", "subject": "Konsert", "body": "<p>Hej</p>"}],
            },
            "subject_test",
        ),
    ]
    for changes, field in cases:
        response = await api.post(
            "/api/campaigns",
            json={"subject": SUBJECTS[0], "body": BODY, "lists": ["kultur"], **changes},
        )
        assert response.status_code == 422, (changes, response.text)
        assert field in response.json()["errors"], (changes, response.json())
    opens = await new_campaign(
        api, subject=SUBJECTS[0], track_opens=True, subject_test=_test(metric="opens")
    )
    assert opens["subject_test"]["metric"] == "opens"
    # A test added to a campaign with variants, or variants to a test, is refused as well.
    patched = await api.patch(
        f"/api/campaigns/{opens['id']}",
        json={
            "fallback_language": "da",
            "variants": [{"language": "sv", "subject": "Konsert", "body": "<p>Hej</p>"}],
        },
    )
    assert patched.status_code == 422
    assert "subject_test" in patched.json()["errors"]
    off = await api.patch(f"/api/campaigns/{opens['id']}", json={"track_opens": False})
    assert off.status_code == 422
    assert "subject_test.metric" in off.json()["errors"]
    removed = await api.patch(f"/api/campaigns/{opens['id']}", json={"subject_test": None})
    assert removed.status_code == 200, removed.text
    assert removed.json()["subject_test"] is None


def test_ties_go_to_the_earlier_subject_and_say_so() -> None:
    def figures(*rows: tuple[int, int, int]) -> dict[int, queries.SubjectFigures]:
        return {
            i: queries.SubjectFigures(i, sent, clicks, opens)
            for i, (sent, clicks, opens) in enumerate(rows)
        }

    assert pick_winner(figures((10, 1, 0), (20, 2, 9), (10, 3, 0)), 3, "clicks") == (2, "best_rate")
    assert pick_winner(figures((10, 1, 0), (20, 4, 0), (10, 2, 0)), 3, "clicks") == (1, TIE)
    assert pick_winner(figures((10, 0, 1), (20, 0, 0)), 2, "clicks") == (0, NO_ENGAGEMENT)
    assert pick_winner(figures((10, 5, 1), (20, 0, 9)), 2, "opens") == (1, "best_rate")
    # A subject nobody got (a tiny sample) counts as no engagement, never as a division by 0.
    assert pick_winner(figures((0, 0, 0), (5, 1, 0)), 3, "clicks") == (1, "best_rate")


def test_the_sample_follows_the_share_and_the_subjects_split_it_evenly() -> None:
    picks = [subject_for(7, subscriber, 20, 4) for subscriber in range(1, 20_001)]
    chosen = [p for p in picks if p is not None]
    assert 3_800 <= len(chosen) <= 4_200
    assert all(900 <= n <= 1_100 for n in Counter(chosen).values())
    # Another campaign draws another sample.
    other = [subject_for(8, subscriber, 20, 4) for subscriber in range(1, 20_001)]
    assert sum(1 for a, b in zip(picks, other, strict=True) if (a is None) != (b is None)) > 4_000
