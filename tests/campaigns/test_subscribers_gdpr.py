"""Staff export and erasure through the campaigns API, run by the subscriptions worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import (
    api_tokens,
    audit_log,
    mailing_lists,
    subscribers,
    subscriptions,
    suppressions,
)
from shared.settings import Settings
from tests.campaigns.conftest import Api

worker = pytest.importorskip("services.subscriptions.worker")

EMAIL = "maja@example.org"


async def seed_subscriber(db: AsyncEngine) -> int:
    """A confirmed subscriber of the first list; its id."""
    now = datetime.now(UTC)
    async with db.begin() as conn:
        list_id = (await conn.execute(sa.select(sa.func.min(mailing_lists.c.id)))).scalar_one()
        subscriber_id = (
            await conn.execute(
                sa.insert(subscribers)
                .values(
                    key="k" * 32,
                    email=EMAIL,
                    name="Maja",
                    language="da",
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
                .returning(subscribers.c.id)
            )
        ).scalar_one()
        await conn.execute(
            sa.insert(subscriptions).values(
                subscriber_id=subscriber_id,
                list_id=list_id,
                status="confirmed",
                requested_at=now,
                confirmed_at=now,
            )
        )
    return int(subscriber_id)


@pytest.fixture
async def subscriptions_worker(settings: Settings) -> AsyncIterator[None]:
    """The subscriptions worker running in the background for the test's duration."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_worker(settings, stop=stop))
    await asyncio.sleep(0.3)  # let it connect before requests wait on it
    yield
    stop.set()
    await task


async def audit(db: AsyncEngine) -> list[tuple[str, str]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.id)
        )
        return [(str(actor), str(action)) for actor, action in rows]


async def test_an_admin_exports_an_address(
    api: Api, db: AsyncEngine, subscriptions_worker: None
) -> None:
    await seed_subscriber(db)

    response = await api.post("/api/subscribers/export", role="admin", json={"email": EMAIL})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["found"] is True and body["suppressed"] is False
    assert body["data"]["subscriber"]["email"] == EMAIL
    assert [s["status"] for s in body["data"]["subscriptions"]] == ["confirmed"]
    token_id = await _token_id(db, "admin")
    assert await audit(db) == [(f"staff:{token_id}", "exported")]

    unknown = await api.post(
        "/api/subscribers/export", role="admin", json={"email": "nobody@example.org"}
    )
    assert unknown.json() == {"found": False, "suppressed": False, "data": None}


async def test_an_admin_erases_an_address_through_a_job(
    api: Api, db: AsyncEngine, settings: Settings
) -> None:
    await seed_subscriber(db)

    response = await api.post("/api/subscribers/erase", role="admin", json={"email": EMAIL})

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    async with db.connect() as conn:  # queued, not done: campaigns never writes these tables
        assert (await conn.execute(sa.select(sa.func.count()).select_from(subscribers))).scalar()
    await worker.run_worker(settings, burst=True)

    async with db.connect() as conn:
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(subscribers))
        ).scalar() == 0
        assert (
            await conn.execute(sa.select(sa.func.count()).select_from(suppressions))
        ).scalar() == 1
    token_id = await _token_id(db, "admin")
    assert await audit(db) == [(f"staff:{token_id}", "erased")]

    # The export now reports the suppression, not the person.
    exported = await _export_with_worker(api, settings)
    assert exported == {"found": False, "suppressed": True, "data": None}


async def test_export_and_erasure_find_the_address_in_any_spelling(
    api: Api, db: AsyncEngine, settings: Settings, subscriptions_worker: None
) -> None:
    await seed_subscriber(db)

    exported = await api.post(
        "/api/subscribers/export", role="admin", json={"email": "Maja@EXAMPLE.org"}
    )

    body = exported.json()
    assert body["found"] is True
    assert body["data"]["subscriber"]["email"] == EMAIL  # as the resident typed it

    erased = await api.post(
        "/api/subscribers/erase", role="admin", json={"email": "MAJA@example.ORG"}
    )
    assert erased.status_code == 202
    for _ in range(50):  # the running worker picks the job up
        async with db.connect() as conn:
            left = (
                await conn.execute(sa.select(sa.func.count()).select_from(subscribers))
            ).scalar()
        if left == 0:
            break
        await asyncio.sleep(0.1)
    assert left == 0
    again = await api.post("/api/subscribers/export", role="admin", json={"email": EMAIL})
    assert again.json() == {"found": False, "suppressed": True, "data": None}


async def _export_with_worker(api: Api, settings: Settings) -> object:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_worker(settings, stop=stop))
    try:
        response = await api.post("/api/subscribers/export", role="admin", json={"email": EMAIL})
    finally:
        stop.set()
        await task
    return response.json()


@pytest.mark.parametrize("role", ["viewer", "editor"])
async def test_only_admins_may_export_or_erase(api: Api, role: str) -> None:
    for path in ("/api/subscribers/export", "/api/subscribers/erase"):
        response = await api.post(path, role=role, json={"email": EMAIL})
        assert response.status_code == 403, (path, response.text)
    anonymous = await api.client.post("/api/subscribers/erase", json={"email": EMAIL})
    assert anonymous.status_code == 401


BAD_REQUESTS: list[tuple[dict[str, object], str]] = [
    ({"email": "not an address"}, "email"),
    ({"email": 12}, "email"),
    ({}, "email"),
    ({"email": EMAIL, "extra": 1}, "extra"),
]


async def test_bad_requests_are_refused_with_field_reasons(api: Api) -> None:
    # Every body against one app and database (the set-up cost many times the request).
    for body, field in BAD_REQUESTS:
        response = await api.post("/api/subscribers/erase", role="admin", json=body)
        assert response.status_code in (400, 422), (body, response.text)
        assert field in response.json()["errors"], (body, response.text)


async def test_export_without_a_running_worker_is_503(
    api: Api, db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.campaigns import subscribers as staff

    monkeypatch.setattr(staff, "EXPORT_TIMEOUT", 0.5)  # no worker runs in this test

    response = await api.post("/api/subscribers/export", role="admin", json={"email": EMAIL})

    assert response.status_code == 503
    assert "worker" in response.json()["error"]


async def _token_id(db: AsyncEngine, role: str) -> int:
    query = sa.select(sa.func.max(api_tokens.c.id)).where(api_tokens.c.role == role)
    async with db.connect() as conn:
        value = (await conn.execute(query)).scalar_one()
    return int(value)
