"""Lists in the API and the staff app: counts by state, growth per day, welcome texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import mailing_lists, staff_audit
from shared.settings import Settings
from tests.campaigns.audience_support import add_subscriber, list_id
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import post_form, sign_in_as


async def _every_state(db: AsyncEngine) -> None:
    kultur, idraet = await list_id(db, "kultur"), await list_id(db, "idraet")
    await add_subscriber(db, "a@example.dk", lists={kultur: "confirmed", idraet: "pending"})
    await add_subscriber(db, "b@example.dk", lists={kultur: "confirmed"})
    await add_subscriber(db, "c@example.dk", lists={kultur: "pending"})
    await add_subscriber(db, "d@example.dk", lists={kultur: "unsubscribed"})
    await add_subscriber(db, "e@example.dk", lists={kultur: "confirmed"}, bounced=True)


async def test_stats_count_every_state_and_the_growth_per_day(api: Api, db: AsyncEngine) -> None:
    await _every_state(db)
    kultur = await list_id(db, "kultur")
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    await add_subscriber(db, "old@example.dk", lists={kultur: "confirmed"}, at=ten_days_ago)
    long_ago = datetime.now(UTC) - timedelta(days=200)
    await add_subscriber(db, "older@example.dk", lists={kultur: "confirmed"}, at=long_ago)

    response = await api.get("/api/lists/kultur/stats")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counts"] == {"confirmed": 4, "pending": 1, "unsubscribed": 1, "bounced": 1}
    days = body["days"]
    assert len(days) == 90 and days[-1]["date"] == datetime.now(UTC).date().isoformat()
    today = days[-1]
    # a, b, d and e confirmed today; d also withdrew.
    assert today == {"date": today["date"], "confirmed": 4, "unsubscribed": 1, "net": 3}
    earlier = {day["date"]: day["net"] for day in days[:-1]}
    assert earlier[ten_days_ago.date().isoformat()] == 1
    assert sum(earlier.values()) == 1  # the sign-up 200 days ago is outside the window
    other = (await api.get("/api/lists/idraet/stats")).json()
    assert other["counts"] == {"confirmed": 0, "pending": 1, "unsubscribed": 0, "bounced": 0}
    assert (await api.get("/api/lists/nope/stats")).status_code == 404
    assert (await api.get("/api/lists/a%00b/stats")).status_code == 404
    assert (await api.get("/api/lists/%C3%B8/stats")).status_code == 404


async def test_the_lists_page_shows_counts_by_state(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    await _every_state(db)
    await sign_in_as(api.client, settings, "viewer")

    page = await api.client.get("/app/lists", headers={"Accept-Language": "en"})

    assert page.status_code == 200
    row = page.text.split('href="/app/lists/kultur"')[1].split("</tr>")[0]
    assert [int(n) for n in _numbers(row)] == [2, 1, 1, 1]  # e bounced
    assert "Create a list" not in page.text  # viewers do not create lists
    one = await api.client.get("/app/lists/kultur", headers={"Accept-Language": "en"})
    assert one.status_code == 200
    assert "<svg" in one.text and "Net growth per day" in one.text
    assert 'name="welcome_subject_da"' not in one.text
    assert (await api.client.get("/app/lists/nope")).status_code == 404
    assert (await api.client.get("/app/lists/a%00b")).status_code == 404


def _numbers(row: str) -> list[str]:
    import re

    return re.findall(r'<td class="number">(\d+)</td>', row)


async def test_an_admin_edits_the_welcome_texts(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    await sign_in_as(api.client, settings, "admin")
    form = {
        **{
            f"name_{lang}": name
            for lang, name in (("da", "Kultur"), ("sv", "Kultur"), ("en", "Culture"))
        },
        "welcome_subject_da": "Velkommen, {{ subscriber.name }}",
        "welcome_body_da": "Tak for din tilmelding til {{ list.name }}.",
        "welcome_subject_sv": "",
        "welcome_body_sv": "",
        "welcome_subject_en": "Welcome",
        "welcome_body_en": "",
    }

    refused = await post_form(api.client, "/app/lists/kultur", "/app/lists/kultur", **form)

    assert refused.status_code == 422  # an English subject without a body
    assert 'href="#welcome_body_en"' in refused.text
    form["welcome_subject_en"] = ""
    saved = await post_form(api.client, "/app/lists/kultur", "/app/lists/kultur", **form)
    assert saved.status_code == 200, saved.text
    welcome = (await api.get("/api/lists/kultur")).json()["welcome"]
    assert welcome["da"] == {
        "subject": "Velkommen, {{ subscriber.name }}",
        "body": "Tak for din tilmelding til {{ list.name }}.",
    }
    assert welcome["sv"] is None and welcome["en"] is None
    async with db.connect() as conn:
        actions = (await conn.execute(sa.select(staff_audit.c.action, staff_audit.c.object))).all()
    assert ("list.update", "list:kultur") in [tuple(row) for row in actions]
    broken = await post_form(
        api.client,
        "/app/lists/kultur",
        "/app/lists/kultur",
        **{**form, "welcome_body_da": "{{ subscriber.nope( }}"},
    )
    assert broken.status_code == 422


async def test_an_admin_creates_a_list(api: Api, db: AsyncEngine, settings: Settings) -> None:
    await sign_in_as(api.client, settings, "admin")
    form = {
        "slug": "musik",
        "name_da": "Musik",
        "name_sv": "Musik",
        "name_en": "Music",
        "is_public": "1",
    }

    created = await post_form(api.client, "/app/lists", "/app/lists", **form)

    assert created.status_code == 303 and created.headers["location"] == "/app/lists/musik"
    async with db.connect() as conn:
        optin = await conn.scalar(
            sa.select(mailing_lists.c.double_optin).where(mailing_lists.c.slug == "musik")
        )
    assert optin is False  # the box was left unticked
    again = await post_form(api.client, "/app/lists", "/app/lists", **form)
    assert again.status_code == 422 and 'value="musik"' in again.text
    bad = await post_form(api.client, "/app/lists", "/app/lists", **{**form, "slug": "Ø Ø"})
    assert bad.status_code == 422


async def test_editors_and_viewers_cannot_change_lists(api: Api, settings: Settings) -> None:
    for role in ("editor", "viewer"):
        api.client.cookies.clear()
        await sign_in_as(api.client, settings, role)
        changed = await post_form(
            api.client,
            "/app/lists/kultur",
            "/app/lists/kultur",
            name_da="Hacket",
            name_sv="Hackad",
            name_en="Hacked",
        )
        assert changed.status_code == 403
        created = await post_form(
            api.client, "/app/lists", "/app/lists", slug="x", name_da="x", name_sv="x", name_en="x"
        )
        assert created.status_code == 403
    assert (await api.get("/api/lists/kultur")).json()["names"]["da"] != "Hacket"
