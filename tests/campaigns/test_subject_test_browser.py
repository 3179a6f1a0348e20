"""A subject test from the staff app in Debian's Chromium: the editor's fields, then the
campaign page while the sample is out, waiting for the winner, and after the winner went to
the rest, each scanned with axe-core.

Needs ``/usr/bin/chromium``; without it the tests skip and say so (no browser download).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app
from services.campaigns.engagement import record_engagement
from services.mailer.worker import run_worker
from shared.db import create_sessionmaker
from shared.events import LinkClicked
from shared.schema import campaign_links, deliveries, subscribers
from shared.settings import Settings
from tests.campaigns.sending_support import add_subscribers
from tests.campaigns.test_staff_browser import (
    NEW_PASSWORD,
    _staff_with_password,
    assert_accessible,
)
from tests.campaigns.test_subject_tests import poll_after_the_wait
from tests.mailer.support import FAST
from tests.subscriptions.test_browser import pytestmark  # noqa: F401
from tests.support.smtp import RecordingSMTPServer

with contextlib.suppress(ImportError):  # the dev extra installs it
    from playwright.async_api import Browser, Page

READERS = [(f"r{n:02d}@example.dk", f"Reader {n}", "da") for n in range(24)]
DRAFT = {
    "subject": "Koncert i aften",
    "body": '<p>Hej {{ subscriber.name }}</p><p><a href="https://kultur.example.dk/">Program</a></p>',
    "lists": ["kultur"],
}


@dataclasses.dataclass
class Staff:
    """The app's address, an editor's API client, and a draft for ``kultur``."""

    url: str
    api: httpx.AsyncClient
    campaign_id: int


@pytest.fixture
async def staff(
    settings: Settings, live_server: Any, redis: Redis, db: AsyncEngine
) -> AsyncIterator[Staff]:
    """The campaigns app polling every 0.2 s, readers on ``kultur`` and a draft for it."""
    await seed_demo(settings)
    await add_subscribers(db, "kultur", READERS)
    token = await create_token(settings, "editor", "browser test")
    fast = dataclasses.replace(settings, schedule_poll_interval=0.2)
    async with (
        live_server(create_app(fast)) as server,
        httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=20
        ) as api,
    ):
        created = await api.post("/api/campaigns", json=DRAFT)
        assert created.status_code == 201, created.text
        yield Staff(server.url, api, created.json()["id"])


async def _sign_in(page: Page, url: str, email: str) -> None:
    await page.goto(url + "/app/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/")


async def _campaign(staff: Staff) -> dict[str, Any]:
    body: dict[str, Any] = (await staff.api.get(f"/api/campaigns/{staff.campaign_id}")).json()
    return body


async def _clicks_for_subject(db: AsyncEngine, campaign_id: int, subject: int) -> None:
    """Every recipient of one subject follows the tracked link (the engagement writer)."""
    async with db.connect() as conn:
        link_id = (
            await conn.execute(
                sa.select(campaign_links.c.id).where(campaign_links.c.campaign_id == campaign_id)
            )
        ).scalar_one()
        keys = (
            await conn.execute(
                sa.select(subscribers.c.key)
                .join(deliveries, deliveries.c.subscriber_id == subscribers.c.id)
                .where(deliveries.c.campaign_id == campaign_id)
                .where(deliveries.c.subject_variant == subject)
            )
        ).scalars()
        events = [LinkClicked(link_id=int(link_id), subscriber_key=k, at=time.time()) for k in keys]
    assert events
    async with create_sessionmaker(db)() as session:
        await record_engagement(session, list(events))


async def test_an_editor_sets_up_a_subject_test_and_reads_its_outcome(
    chromium: Browser,
    staff: Staff,
    settings: Settings,
    db: AsyncEngine,
    smtp_server: RecordingSMTPServer,
) -> None:
    await _staff_with_password(settings, "ea@kommune.test", "editor")
    context = await chromium.new_context(locale="en")
    page = await context.new_page()
    await _sign_in(page, staff.url, "ea@kommune.test")
    await page.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}/edit")
    # Opens to decide without open tracking: refused with the reason beside the field.
    await page.get_by_label("Other subjects, one per line").fill("Sidste chance\nGratis koncert")
    await page.get_by_label("The winner is the subject with the most").select_option("opens")
    await page.get_by_role("button", name="Save").click()
    problem = page.locator("#subject_test\\.metric-problem")
    assert "only with open tracking on" in await problem.inner_text()
    await assert_accessible(page)  # the editor with a problem
    await page.get_by_label("Sample (percent of the audience)").fill("50")
    await page.get_by_label("Wait before picking the winner (minutes)").fill("1")
    await page.get_by_label("The winner is the subject with the most").select_option("clicks")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_selector('[role="status"].message')
    test = (await _campaign(staff))["subject_test"]
    assert test["subjects"] == ["Koncert i aften", "Sidste chance", "Gratis koncert"]
    assert (test["sample_percent"], test["wait_seconds"]) == (50, 60)
    await assert_accessible(page)  # the editor with a test

    assert (await staff.api.post(f"/api/campaigns/{staff.campaign_id}/send")).status_code == 202
    await page.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}")
    assert "Testing subjects" in await page.inner_text("#progress-status")
    await assert_accessible(page)  # testing

    await run_worker(settings, burst=True, options=FAST)
    assert (await _campaign(staff))["status"] == "waiting"
    await page.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}")
    assert "Waiting for the winner" in await page.inner_text("#progress-status")
    assert await page.locator("#subject-test-due").count() == 1
    await assert_accessible(page)  # waiting for the winner
    await _clicks_for_subject(db, staff.campaign_id, 2)

    await poll_after_the_wait(settings, db, 61)  # the minute's wait is over
    assert (await _campaign(staff))["subject_test"]["winner"] == 2
    await page.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}")
    assert "Subject C won" in await page.inner_text("#subject-test-winner")
    assert "(winner)" in await page.inner_text("#subject-2")
    await assert_accessible(page)  # the winner picked, the rest not yet sent

    await run_worker(settings, burst=True, options=FAST)
    assert len(smtp_server.messages) == len(READERS)
    for lang, heading in (("da", "Test af emnelinjer"), ("sv", "Test av ämnesrader")):
        other = await chromium.new_context(locale=lang)
        tab = await other.new_page()
        await _sign_in(tab, staff.url, "ea@kommune.test")
        await tab.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}")
        assert await tab.inner_text("#subject-test-heading") == heading
        await assert_accessible(tab)  # sent, in Danish and Swedish
        await other.close()
    await context.close()
