"""Subscribers in the API and the staff app: search by prefix, pages, one subscriber, GDPR."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.campaigns.queries import audience
from shared.schema import audit_log, staff_audit, subscribers
from shared.settings import Settings
from tests.campaigns.audience_support import add_delivery, add_subscriber, list_id
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import csrf_token, sign_in_as

worker = pytest.importorskip("services.subscriptions.worker")


@pytest.fixture
async def subscriptions_worker(settings: Settings) -> AsyncIterator[None]:
    """The subscriptions worker running in the background (it answers exports)."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_worker(settings, stop=stop))
    await asyncio.sleep(0.3)
    yield
    stop.set()
    await task


async def _emails(api: Api, **params: str) -> tuple[list[str], int | None]:
    response = await api.get("/api/subscribers", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return [item["email"] for item in body["items"]], body["next_cursor"]


async def test_search_by_prefix_of_the_address_takes_the_input_literally(
    api: Api, db: AsyncEngine
) -> None:
    for email in (
        "Maja.Hansen@Example.dk",
        "maja_b@example.dk",
        "majaxb@example.dk",
        "ma%ja@example.dk",
        "ole@example.dk",
        "majb@example.dk",
    ):
        await add_subscriber(db, email)

    assert (await _emails(api, q="maja"))[0] == [
        "Maja.Hansen@Example.dk",
        "maja_b@example.dk",
        "majaxb@example.dk",
    ]
    assert (await _emails(api, q="MAJA.h"))[0] == ["Maja.Hansen@Example.dk"]  # any case
    assert (await _emails(api, q="maja_"))[0] == ["maja_b@example.dk"]  # _ is no wildcard
    assert (await _emails(api, q="ma%"))[0] == ["ma%ja@example.dk"]  # nor is %
    assert (await _emails(api, q="%"))[0] == []
    assert (await _emails(api, q="maja.hansen@EXAMPLE.DK"))[0] == ["Maja.Hansen@Example.dk"]
    assert (await _emails(api, q=""))[0] == []
    assert (await _emails(api, q="\\"))[0] == []
    bad = await api.get("/api/subscribers", params={"q": "a", "by": "phone"})
    assert bad.status_code == 422
    assert (await _emails(api, q="\U0010ffff"))[0] == []
    assert (await _emails(api, q="ø😀"))[0] == []
    nul = await api.get("/api/subscribers", params={"q": "a\x00"})
    assert nul.status_code == 422


async def test_search_by_prefix_of_the_name(api: Api, db: AsyncEngine) -> None:
    await add_subscriber(db, "1@example.dk", name="Karen Blixen")
    await add_subscriber(db, "2@example.dk", name="karen_x")
    await add_subscriber(db, "3@example.dk", name="Karensdatter")
    await add_subscriber(db, "4@example.dk", name="Per Karen")
    await add_subscriber(db, "5@example.dk", name=None)

    assert (await _emails(api, q="KAREN", by="name"))[0] == [
        "1@example.dk",
        "2@example.dk",
        "3@example.dk",
    ]
    assert (await _emails(api, q="karen_", by="name"))[0] == ["2@example.dk"]
    assert (await _emails(api, q="karen b", by="name"))[0] == ["1@example.dk"]
    assert (await _emails(api, q="%", by="name"))[0] == []


async def test_search_pages_with_a_cursor(api: Api, db: AsyncEngine) -> None:
    for number in range(57):
        await add_subscriber(db, f"page{number:03}@example.dk", name="Same Name")

    for by, q in (("email", "page"), ("name", "same")):
        first, cursor = await _emails(api, q=q, by=by)
        assert len(first) == 50 and cursor is not None
        second, end = await _emails(api, q=q, by=by, cursor=str(cursor))
        assert len(second) == 7 and end is None
        assert sorted(first + second) == [f"page{n:03}@example.dk" for n in range(57)]
    small, cursor = await _emails(api, q="page", limit="5")
    assert small == [f"page{n:03}@example.dk" for n in range(5)] and cursor is not None
    too_many = await api.get("/api/subscribers", params={"q": "page", "limit": "51"})
    assert too_many.status_code == 400


async def _someone(db: AsyncEngine) -> int:
    kultur, idraet = await list_id(db, "kultur"), await list_id(db, "idraet")
    subscriber_id = await add_subscriber(
        db,
        "maja@example.org",
        name="Maja",
        lists={kultur: "confirmed", idraet: "unsubscribed"},
        municipality="dk-koebenhavn",
        custom_values={"interests": "teater"},
    )
    await add_delivery(db, subscriber_id, "Nyt fra kulturen", "sent")
    await add_delivery(db, subscriber_id, "Sommerfest", "failed", "5.1.1 mailbox unknown")
    return subscriber_id


async def test_one_subscriber_in_the_api(api: Api, db: AsyncEngine) -> None:
    subscriber_id = await _someone(db)

    response = await api.get(f"/api/subscribers/{subscriber_id}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["email"] == "maja@example.org" and body["municipality_name"] == "København"
    assert {item["list"]: item["state"] for item in body["lists"]} == {
        "idraet": "unsubscribed",
        "kultur": "confirmed",
    }
    assert [event["event"] for event in body["consent"] if event["list"] == "idraet"] == [
        "withdrawn",
        "confirmed",
        "requested",
    ]
    assert [(d["subject"], d["status"], d["smtp_response"]) for d in body["deliveries"]] == [
        ("Sommerfest", "failed", "5.1.1 mailbox unknown"),
        ("Nyt fra kulturen", "sent", None),
    ]
    assert body["custom_fields"] == [{"key": "interests", "labels": None, "value": "teater"}]
    assert (await api.get("/api/subscribers/999999")).status_code == 404
    anonymous = await api.client.get(f"/api/subscribers/{subscriber_id}")
    assert anonymous.status_code == 401


async def test_the_subscribers_pages(api: Api, db: AsyncEngine, settings: Settings) -> None:
    subscriber_id = await _someone(db)
    await sign_in_as(api.client, settings, "viewer")
    english = {"Accept-Language": "en"}

    search = await api.client.get("/app/subscribers", params={"q": "MAJA"}, headers=english)
    assert search.status_code == 200 and f'href="/app/subscribers/{subscriber_id}"' in search.text
    assert "<html" in search.text
    fragment = await api.client.get(
        "/app/subscribers", params={"q": "maja"}, headers={**english, "HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "maja@example.org" in fragment.text
    for params in (
        {"q": "zz", "cursor": "x"},
        {"q": "a\x00", "cursor": "0"},
        {"q": "%", "by": "nope", "cursor": "²"},
        {"cursor": "9" * 30},
    ):
        odd = await api.client.get("/app/subscribers", params=params)
        assert odd.status_code == 200, params

    page = await api.client.get(f"/app/subscribers/{subscriber_id}", headers=english)
    assert page.status_code == 200
    text = page.text
    for expected in (
        "maja@example.org",
        "København",
        "5.1.1 mailbox unknown",
        "Sommerfest",
        "withdrawn",
        "teater",
        "Kulturhuset Øresund",
    ):
        assert expected in text, expected
    assert "/erase" not in text and "/export" not in text  # viewers see no GDPR buttons
    assert (await api.client.get("/app/subscribers/999999")).status_code == 404


async def test_an_admin_exports_and_erases_after_confirming(
    api: Api, db: AsyncEngine, settings: Settings, subscriptions_worker: None
) -> None:
    subscriber_id = await _someone(db)
    admin_id = await sign_in_as(api.client, settings, "admin")
    page = await api.client.get(f"/app/subscribers/{subscriber_id}")
    assert f'href="/app/subscribers/{subscriber_id}/export"' in page.text

    confirm = await api.client.get(f"/app/subscribers/{subscriber_id}/export")
    assert confirm.status_code == 200
    assert f'action="/app/subscribers/{subscriber_id}/export"' in confirm.text
    exported = await api.client.post(
        f"/app/subscribers/{subscriber_id}/export", data={"_csrf_token": csrf_token(confirm)}
    )
    assert exported.status_code == 200, exported.text
    assert "attachment" in exported.headers["content-disposition"]
    assert json.loads(exported.content)["data"]["subscriber"]["email"] == "maja@example.org"

    confirm = await api.client.get(f"/app/subscribers/{subscriber_id}/erase")
    assert "maja@example.org" in confirm.text
    erased = await api.client.post(
        f"/app/subscribers/{subscriber_id}/erase", data={"_csrf_token": csrf_token(confirm)}
    )
    assert erased.status_code == 303
    done = await api.client.get(erased.headers["location"], headers={"Accept-Language": "en"})
    assert 'role="status"' in done.text and "erasure is queued" in done.text
    for _ in range(50):
        async with db.connect() as conn:
            left = await conn.scalar(sa.select(sa.func.count()).select_from(subscribers))
        if not left:
            break
        await asyncio.sleep(0.1)
    assert left == 0
    async with db.connect() as conn:
        trail = (
            await conn.execute(
                sa.select(
                    staff_audit.c.actor,
                    staff_audit.c.action,
                    staff_audit.c.object,
                    staff_audit.c.details,
                )
            )
        ).all()
        residents_log = (await conn.execute(sa.select(audit_log.c.actor, audit_log.c.action))).all()
    mine = [(a, b, c) for a, b, c, _ in trail if b.startswith("subscriber.")]
    assert mine == [
        (f"user:{admin_id}", "subscriber.export", f"subscriber:{subscriber_id}"),
        (f"user:{admin_id}", "subscriber.erase", f"subscriber:{subscriber_id}"),
    ]
    assert "maja" not in json.dumps([list(map(str, row)) for row in trail])
    assert sorted(tuple(row) for row in residents_log) == [
        (f"staff:user:{admin_id}", "erased"),
        (f"staff:user:{admin_id}", "exported"),
    ]


async def test_viewers_and_editors_get_no_gdpr_action(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    subscriber_id = await _someone(db)
    for role in ("viewer", "editor"):
        api.client.cookies.clear()
        await sign_in_as(api.client, settings, role)
        page = await api.client.get(f"/app/subscribers/{subscriber_id}")
        token = csrf_token(page)  # the logout form's: a valid token of this session
        for action in ("export", "erase"):
            assert (
                await api.client.get(f"/app/subscribers/{subscriber_id}/{action}")
            ).status_code == 403
            forged = await api.client.post(
                f"/app/subscribers/{subscriber_id}/{action}", data={"_csrf_token": token}
            )
            assert forged.status_code == 403, forged.text
    async with db.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(subscribers)) == 1
    no_token = await api.client.post(f"/app/subscribers/{subscriber_id}/erase", data={})
    assert no_token.status_code == 403


async def test_searches_use_the_indexes_on_postgresql(db: AsyncEngine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    async with db.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO subscribers (key, email, email_key, name, language, status, "
                "created_at, updated_at) SELECT md5(n::text), 'person' || n || '@example.dk', "
                "'person' || n || '@example.dk', 'Name ' || n, 'da', 'active', now(), now() "
                "FROM generate_series(1, 20000) AS n"
            )
        )
        await conn.execute(sa.text("ANALYZE subscribers"))
    seen: list[tuple[str, object]] = []

    def capture(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "LIKE" in statement:
            seen.append((statement, parameters))

    sa.event.listen(db.sync_engine, "before_cursor_execute", capture)
    try:
        async with AsyncSession(db) as session:
            for find, prefix in (
                (audience.subscribers_by_key_prefix, "person123"),
                (audience.subscribers_by_name_prefix, "name 123"),
            ):
                first = await find(session, prefix, None, 51)
                assert len(first) == 51
                second = await find(session, prefix, first[-1].id, 51)  # the keyset page
                assert len(second) == 51 and not {hit.id for hit in first} & {
                    hit.id for hit in second
                }
    finally:
        sa.event.remove(db.sync_engine, "before_cursor_execute", capture)
    plans = []
    async with db.connect() as conn:
        for statement, parameters in seen:
            result = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)  # type: ignore[arg-type]
            plans.append("\n".join(str(row[0]) for row in result))
    assert len(plans) == 4
    for plan, index in zip(
        plans,
        ["ix_subscribers_email_key_prefix"] * 2 + ["ix_subscribers_name_prefix"] * 2,
        strict=True,
    ):
        assert index in plan and "Seq Scan" not in plan and "Sort" not in plan, plan
