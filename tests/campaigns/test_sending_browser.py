"""Sending a campaign from the staff app in Debian's Chromium, with an axe-core scan of the
campaign page in every state it passes through: draft, scheduled, sending and sent.

Needs ``/usr/bin/chromium``; without it the tests skip and say so (no browser download).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.admin import create_token, seed_demo
from services.campaigns.app import create_app
from services.mailer.worker import run_worker
from shared.settings import Settings
from tests.campaigns.conftest import CAMPAIGN
from tests.campaigns.sending_support import add_subscribers, eventually
from tests.campaigns.test_staff_browser import (
    NEW_PASSWORD,
    _staff_with_password,
    assert_accessible,
)
from tests.mailer.support import FAST
from tests.subscriptions.test_browser import pytestmark  # noqa: F401
from tests.support.smtp import RecordingSMTPServer

with contextlib.suppress(ImportError):  # the dev extra installs it
    from playwright.async_api import Browser, Page

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
READERS = [
    ("anna@example.dk", "Anna", "da"),
    ("bo@example.dk", "Bo", "da"),
    ("karin@example.se", "Karin", "sv"),
]


@dataclasses.dataclass
class Staff:
    """The app's address, an editor's API client, and the campaign made for ``kultur``."""

    url: str
    api: httpx.AsyncClient
    campaign_id: int


@pytest.fixture
async def staff(
    settings: Settings, live_server: Any, redis: Redis, db: AsyncEngine
) -> AsyncIterator[Staff]:
    """The campaigns app polling for due campaigns every 0.2 s, three readers on ``kultur``
    and a draft campaign for it, made through the API."""
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
        created = await api.post(
            "/api/campaigns", json={**CAMPAIGN, "subject": "Kulturnyt til {{ subscriber.name }}"}
        )
        assert created.status_code == 201, created.text
        yield Staff(server.url, api, created.json()["id"])


async def _sign_in(page: Page, url: str, email: str) -> None:
    await page.goto(url + "/app/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/app/")


async def _status(staff: Staff) -> str:
    body = (await staff.api.get(f"/api/campaigns/{staff.campaign_id}")).json()
    return str(body["status"])


async def test_an_editor_tests_schedules_and_watches_a_campaign_go_out(
    chromium: Browser,
    staff: Staff,
    settings: Settings,
    smtp_server: RecordingSMTPServer,
) -> None:
    """Test send, schedule one minute ahead, the scheduler starts it, the mailer delivers it,
    and the progress bar on the page reaches 100 %.

    The campaign is scheduled through the form for the next minute but one, as staff would,
    and the service's clock is then moved just past that time with time_machine (the app runs
    in this process; Chromium keeps its own clock). So the real scheduler, polling every
    0.2 s, finds the campaign due and starts it through the real send path, without the test
    waiting a minute. The mailer runs for real, in burst mode, under the same moved clock.
    """
    await _staff_with_password(settings, "ea@kommune.test", "editor")
    context = await chromium.new_context(locale="en")
    page = await context.new_page()
    await _sign_in(page, staff.url, "ea@kommune.test")
    await page.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}")
    assert await page.locator("h1").inner_text() == "Kulturnyt til {{ subscriber.name }}"
    assert "3 recipients on the lists right now." in await page.inner_text("main")
    await assert_accessible(page)  # draft

    # Test send: arrives marked as a test; the campaign's figures stay at zero.
    await page.get_by_label("Addresses").fill("ea@kommune.test")
    await page.get_by_role("button", name="Send the test").click()
    await page.wait_for_selector('[role="status"].message')
    assert "the test is on its way" in await page.inner_text('[role="status"].message')
    await run_worker(settings, burst=True, options=FAST)
    [test_mail] = smtp_server.messages
    assert test_mail.rcpt_tos == ["ea@kommune.test"]
    parsed = test_mail.parsed()
    assert parsed["Subject"] == "[TEST] Kulturnyt til Maja"
    assert parsed["X-Brevdue-Test"] == "1"
    assert await page.inner_text("#figure-sent") == "0"
    await assert_accessible(page)  # draft, with the notice

    # Schedule for the minute after next, in Copenhagen time (the English default).
    start = (datetime.now(UTC) + timedelta(minutes=2)).astimezone(COPENHAGEN)
    await page.get_by_label("Date").fill(start.strftime("%Y-%m-%d"))
    await page.get_by_label("Time", exact=True).fill(start.strftime("%H:%M"))
    assert await page.get_by_label("Time zone").input_value() == "Europe/Copenhagen"
    await page.get_by_role("button", name="Schedule the campaign").click()
    await page.wait_for_selector("#scheduled-for")
    assert start.strftime("%H:%M") in await page.inner_text("#scheduled-for")
    assert "Europe/Copenhagen" in await page.inner_text("#scheduled-for")
    assert await _status(staff) == "scheduled"
    await assert_accessible(page)  # scheduled

    due = start.replace(second=0, microsecond=0) + timedelta(seconds=1)
    with time_machine.travel(due, tick=True):
        await eventually(lambda: _is(staff, "sending"))
        await page.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}")
        assert await page.get_attribute("#progress", "hx-trigger") == "every 2s"
        await assert_accessible(page)  # sending

        await run_worker(settings, burst=True, options=FAST)
        # htmx polls the progress fragment until the run is over.
        await page.wait_for_selector('#progress-bar[value="100.0"]', timeout=20_000)
    assert await page.get_attribute("#progress", "hx-trigger") is None  # polling stopped
    assert "Sent" in await page.inner_text("#progress-status")
    figures = {
        name: await page.inner_text(f"#figure-{name}")
        for name in ("recipients", "sent", "failed", "bounced", "skipped", "waiting")
    }
    assert figures == {
        "recipients": "3",
        "sent": "3",
        "failed": "0",
        "bounced": "0",
        "skipped": "0",
        "waiting": "0",
    }
    await page.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}")
    await assert_accessible(page)  # sent
    delivered = sorted(m.rcpt_tos[0] for m in smtp_server.messages[1:])
    assert delivered == sorted(email for email, _, _ in READERS)
    assert all("[TEST]" not in m.parsed()["Subject"] for m in smtp_server.messages[1:])
    await context.close()


async def _is(staff: Staff, status: str) -> bool:
    return await _status(staff) == status


async def test_a_viewer_has_no_send_button_and_posts_are_refused(
    chromium: Browser, staff: Staff, settings: Settings
) -> None:
    await _staff_with_password(settings, "viewer@kommune.test", "viewer")
    context = await chromium.new_context(locale="da")
    page = await context.new_page()
    await _sign_in(page, staff.url, "viewer@kommune.test")
    await page.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}")
    assert await page.locator("form[action$='/send']").count() == 0
    assert await page.get_by_role("button", name="Send nu …").count() == 0
    await assert_accessible(page)
    # The viewer's own session and a valid CSRF token (from the logout form): still refused.
    forged = await page.evaluate(
        """async (id) => {
            const token = document.querySelector('input[name="_csrf_token"]').value;
            const body = new URLSearchParams({confirm: 'yes', _csrf_token: token});
            const response = await fetch(`/app/campaigns/${id}/send`, {method: 'POST', body});
            return response.status;
        }""",
        staff.campaign_id,
    )
    assert forged == 403
    await context.close()

    await _staff_with_password(settings, "ea@kommune.test", "editor")
    context = await chromium.new_context(locale="da")
    page = await context.new_page()
    await _sign_in(page, staff.url, "ea@kommune.test")
    await page.goto(f"{staff.url}/app/campaigns/{staff.campaign_id}")
    assert await page.get_by_role("button", name="Send nu …").count() == 1
    # The confirmation step names the recipients, and is scanned too; going back sends nothing.
    await page.get_by_role("button", name="Send nu …").click()
    await page.wait_for_selector("#confirm-heading")
    assert "Ja, send den til 3 modtagere" in await page.inner_text(".confirm")
    await assert_accessible(page)
    await page.get_by_role("link", name="Nej, gå tilbage").click()
    await page.wait_for_selector("#schedule-heading")
    # The editor's form, sent without its CSRF token.
    status = await page.evaluate(
        """async (id) => {
            const body = new URLSearchParams({confirm: 'yes'});
            const response = await fetch(`/app/campaigns/${id}/send`, {method: 'POST', body});
            return response.status;
        }""",
        staff.campaign_id,
    )
    assert status == 403
    assert await _status(staff) == "draft"
    await context.close()
