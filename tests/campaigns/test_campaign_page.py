"""The campaign page over real HTTP with a session: what each role sees, the confirmation
steps, schedule and unschedule through forms, live-progress polling, refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.queues import BULK_QUEUE
from shared.schema import campaign_runs, deliveries
from shared.settings import Settings
from tests.campaigns.conftest import Api, new_campaign
from tests.campaigns.sending_support import (
    add_subscribers,
    audit_actions,
    next_change,
    summer_day,
)
from tests.campaigns.staff_support import csrf_token, sign_in_as

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database


@pytest.fixture
async def browser(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client on the same live app as ``api``, in English."""
    async with httpx.AsyncClient(
        base_url=str(api.client.base_url), headers={"Accept-Language": "en"}, timeout=20
    ) as client:
        yield client


def _form_token(page: httpx.Response, action: str) -> str:
    """The CSRF token inside the page's form that posts to ``action``."""
    found = re.search(
        rf'<form[^>]*action="{re.escape(action)}"[^>]*>\s*<input type="hidden" '
        r'name="_csrf_token" value="([^"]+)"',
        page.text,
    )
    assert found, f"no form for {action} with a token"
    return found[1]


async def _post(
    client: httpx.AsyncClient, campaign_id: int, action: str, **data: str
) -> httpx.Response:
    """Post the page's own form for ``action`` (confirmation forms post to the same path)."""
    path = f"/app/campaigns/{campaign_id}/{action}"
    page = await client.get(f"/app/campaigns/{campaign_id}")
    if path not in page.text:  # the action's form is not on the page in this state
        return await client.post(path, data={**data, "_csrf_token": csrf_token(page)})
    return await client.post(path, data={**data, "_csrf_token": _form_token(page, path)})


async def test_an_editor_sends_after_a_confirmation_naming_the_recipients(
    api: Api, browser: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    await add_subscribers(db, "kultur", [("a@example.dk", "A", "da"), ("b@example.dk", "B", "sv")])
    campaign = await new_campaign(api)
    user_id = await sign_in_as(browser, settings, "editor")
    page = await browser.get(f"/app/campaigns/{campaign['id']}")
    assert page.status_code == 200
    assert "Send a test" in page.text
    assert "2 recipients on the lists right now." in page.text
    assert '<option value="Europe/Copenhagen" selected>' in page.text
    assert "hx-trigger" not in page.text  # a draft does not poll

    confirm = await _post(browser, campaign["id"], "send")
    assert confirm.status_code == 200
    assert "Send the campaign now?" in confirm.text
    assert "Yes, send it to 2 recipients" in confirm.text
    assert (await api.get(f"/api/campaigns/{campaign['id']}")).json()["status"] == "draft"

    token = _form_token(confirm, f"/app/campaigns/{campaign['id']}/send")
    sent = await browser.post(
        f"/app/campaigns/{campaign['id']}/send", data={"confirm": "yes", "_csrf_token": token}
    )
    assert sent.status_code == 200
    assert "the campaign is being sent" in sent.text.lower()
    assert 'hx-trigger="every 2s"' in sent.text
    assert "Pause" in sent.text and "Send a test" not in sent.text
    fragment = await browser.get(f"/app/campaigns/{campaign['id']}/progress")
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("<section")  # the fragment alone, no page around it
    assert 'hx-trigger="every 2s"' in fragment.text

    async with db.begin() as conn:
        await conn.execute(
            sa.insert(campaign_runs).values(
                campaign_id=campaign["id"],
                state="done",
                recipients=0,
                started_at=sa.func.now(),
                finished_at=sa.func.now(),
            )
        )
    done = await browser.get(f"/app/campaigns/{campaign['id']}/progress")
    assert "hx-trigger" not in done.text  # polling stops once it is over
    assert 'value="100.0"' in done.text
    assert (f"user:{user_id}", "campaign.send") in await audit_actions(
        db, f"campaign:{campaign['id']}"
    )


async def test_schedule_and_unschedule_through_the_forms(
    api: Api, browser: httpx.AsyncClient, settings: Settings, db: AsyncEngine
) -> None:
    campaign = await new_campaign(api)
    user_id = await sign_in_as(browser, settings, "editor")
    day = summer_day()
    response = await _post(
        browser, campaign["id"], "schedule", date=str(day), time="08:15", zone="Europe/Stockholm"
    )
    assert response.status_code == 200, response.text
    assert "the campaign is scheduled" in response.text.lower()
    assert f"{day} 08:15 (time in Europe/Stockholm)" in response.text
    # While it waits the page looks now and then, so it shows the start without a reload.
    assert 'hx-trigger="every 10s"' in response.text
    body = (await api.get(f"/api/campaigns/{campaign['id']}")).json()
    assert body["scheduled_at"] == f"{day}T06:15:00Z"

    gap = await _post(
        browser,
        campaign["id"],
        "schedule",
        date=str(next_change(3)),
        time="02:30",
        zone="Europe/Copenhagen",
    )
    assert gap.status_code == 422
    assert "the clocks move forward an hour that night" in gap.text
    assert 'role="alert"' in gap.text

    back = await _post(browser, campaign["id"], "unschedule")
    assert back.status_code == 200
    assert (await api.get(f"/api/campaigns/{campaign['id']}")).json()["status"] == "draft"
    again = await _post(browser, campaign["id"], "unschedule")
    assert again.status_code == 409
    assert "cannot be done in the campaign" in again.text
    actions = await audit_actions(db, f"campaign:{campaign['id']}")
    assert (f"user:{user_id}", "campaign.schedule") in actions
    assert (f"user:{user_id}", "campaign.unschedule") in actions


async def test_swedish_staff_get_stockholm_and_their_language(
    api: Api, browser: httpx.AsyncClient, settings: Settings
) -> None:
    campaign = await new_campaign(api)
    await sign_in_as(browser, settings, "editor")
    page = await browser.get(f"/app/campaigns/{campaign['id']}", headers={"Accept-Language": "sv"})
    assert '<option value="Europe/Stockholm" selected>' in page.text
    assert "Schemalägg kampanjen" in page.text


async def test_a_viewer_sees_no_actions_and_a_forged_post_is_refused(
    api: Api, browser: httpx.AsyncClient, settings: Settings
) -> None:
    campaign = await new_campaign(api)
    await sign_in_as(browser, settings, "viewer")
    page = await browser.get(f"/app/campaigns/{campaign['id']}")
    assert page.status_code == 200
    assert "Progress" in page.text
    for action in ("send", "test", "schedule", "pause", "cancel"):
        assert f"/app/campaigns/{campaign['id']}/{action}" not in page.text
    for action, data in (("send", {"confirm": "yes"}), ("test", {"to": "x@y.test"})):
        forged = await browser.post(
            f"/app/campaigns/{campaign['id']}/{action}",
            data={**data, "_csrf_token": csrf_token(page)},
        )
        assert forged.status_code == 403
        assert "Not allowed" in forged.text
    assert (await api.get(f"/api/campaigns/{campaign['id']}")).json()["status"] == "draft"


async def test_a_form_without_its_csrf_token_is_refused(
    api: Api, browser: httpx.AsyncClient, settings: Settings
) -> None:
    campaign = await new_campaign(api)
    await sign_in_as(browser, settings, "editor")
    response = await browser.post(f"/app/campaigns/{campaign['id']}/send", data={"confirm": "yes"})
    assert response.status_code == 403
    assert (await api.get(f"/api/campaigns/{campaign['id']}")).json()["status"] == "draft"


async def test_strangers_and_unknown_campaigns(
    api: Api, browser: httpx.AsyncClient, settings: Settings
) -> None:
    campaign = await new_campaign(api)
    anonymous = await browser.get(f"/app/campaigns/{campaign['id']}")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/app/login"
    await sign_in_as(browser, settings, "editor")
    assert (await browser.get("/app/campaigns/999999")).status_code == 404
    assert (await browser.get(f"/app/campaigns/{2**70}")).status_code == 404
    bad = await _post(browser, campaign["id"], "test", to="not an address", subscriber_id="x1")
    assert bad.status_code == 422
    too_many = await _post(
        browser, campaign["id"], "test", to=" ".join(f"p{n}@kommune.test" for n in range(6))
    )
    assert too_many.status_code == 422


async def test_pause_resume_cancel_and_retry_from_the_page(
    api: Api, browser: httpx.AsyncClient, settings: Settings, db: AsyncEngine, redis: Redis
) -> None:
    campaign = await new_campaign(api)
    campaign_id = campaign["id"]
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    now = datetime.now(UTC)
    async with db.begin() as conn:
        await conn.execute(
            sa.insert(campaign_runs).values(
                campaign_id=campaign_id, state="sending", recipients=2, started_at=now
            )
        )
        await conn.execute(
            sa.insert(deliveries),
            [
                {
                    "campaign_id": campaign_id,
                    "subscriber_id": 1,
                    "status": "failed",
                    "attempts": 3,
                    "last_code": 550,
                    "last_response": "5.1.1 mailbox unavailable",
                    "message_id": "<f1@test>",
                    "queued_at": now,
                    "updated_at": now,
                },
                {
                    "campaign_id": campaign_id,
                    "subscriber_id": 2,
                    "status": "queued",
                    "attempts": 0,
                    "last_code": None,
                    "last_response": None,
                    "message_id": "<q2@test>",
                    "queued_at": now,
                    "updated_at": now,
                },
            ],
        )
    await sign_in_as(browser, settings, "editor")
    page = await browser.get(f"/app/campaigns/{campaign_id}")
    assert "550 5.1.1 mailbox unavailable" in page.text
    assert "Retry 1 failed send" in page.text

    retried = await _post(browser, campaign_id, "retry-failed")
    assert retried.status_code == 200
    assert "the failed messages are queued again" in retried.text
    assert await redis.zcard(BULK_QUEUE) == 2  # the start job and the retry job

    paused = await _post(browser, campaign_id, "pause")
    assert paused.status_code == 200
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["status"] == "paused"
    assert "hx-trigger" not in paused.text  # a paused campaign does not poll
    resumed = await _post(browser, campaign_id, "resume")
    assert resumed.status_code == 200
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["status"] == "sending"

    confirm = await _post(browser, campaign_id, "cancel")
    assert "Cancel the campaign?" in confirm.text
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["status"] == "sending"
    token = _form_token(confirm, f"/app/campaigns/{campaign_id}/cancel")
    cancelled = await browser.post(
        f"/app/campaigns/{campaign_id}/cancel", data={"confirm": "yes", "_csrf_token": token}
    )
    assert cancelled.status_code == 200
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["status"] == "cancelled"
    again = await _post(browser, campaign_id, "pause")
    assert again.status_code == 409


async def test_a_test_send_as_an_unknown_subscriber_is_explained(
    api: Api, browser: httpx.AsyncClient, settings: Settings
) -> None:
    campaign = await new_campaign(api)
    await sign_in_as(browser, settings, "editor")
    response = await _post(
        browser, campaign["id"], "test", to="ea@kommune.test", subscriber_id="999999"
    )
    assert response.status_code == 422
    assert "there is no subscriber with that number" in response.text


async def test_odd_form_input_gets_an_answer_not_a_server_error(
    api: Api, browser: httpx.AsyncClient, settings: Settings
) -> None:
    campaign = await new_campaign(api)
    await sign_in_as(browser, settings, "editor")
    for action, data in (
        ("schedule", {}),
        ("schedule", {"date": "2027-02-30", "time": "25:61", "zone": "Europe/Copenhagen"}),
        ("schedule", {"date": "0001-01-01", "time": "00:00", "zone": "Europe/Copenhagen"}),
        ("schedule", {"date": "2030-01-01", "time": "09:00", "zone": "Mars/Olympus"}),
        ("schedule", {"date": "x" * 5000, "time": "\x00", "zone": "\u00e6" * 200}),
        ("test", {}),
        ("test", {"to": "a@b.test", "subscriber_id": "9" * 40}),
        ("test", {"to": "a@b.test", "subscriber_id": "-1"}),
        ("test", {"to": ",,, ;;"}),
        ("send", {"confirm": "maybe"}),
        ("cancel", {"confirm": "yes"}),
        ("pause", {}),
        ("resume", {}),
        ("retry-failed", {}),
    ):
        response = await _post(browser, campaign["id"], action, **data)
        assert response.status_code < 500, (action, data, response.status_code)
        assert response.status_code in {200, 404, 409, 422}, (action, data, response.text[:300])
    assert (await api.get(f"/api/campaigns/{campaign['id']}")).json()["status"] == "draft"
