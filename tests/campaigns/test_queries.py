"""The campaigns service's query functions hand back frozen rows with timezone-aware times."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.admin import DEMO_SITE, seed_demo
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings
from shared.statuses import CampaignStatus


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the test database with the demo lists and site seeded."""
    await seed_demo(settings)
    engine = create_engine(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


def _is_utc(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() is not None and not value.utcoffset()


async def test_lists_are_frozen_rows_with_aware_times(session: AsyncSession) -> None:
    rows = await queries.all_lists(session)
    assert rows and all(isinstance(row, queries.ListRow) for row in rows)
    assert all(_is_utc(row.created_at) for row in rows)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows[0].slug = "other"  # type: ignore[misc]
    assert await queries.list_by_slug(session, rows[0].slug) == rows[0]


async def test_site_row_holds_tuples_and_an_aware_time(session: AsyncSession) -> None:
    site = await queries.site_by_key(session, DEMO_SITE["key"])
    assert isinstance(site, queries.SiteRow)
    assert site.default_lists == tuple(DEMO_SITE["default_lists"])
    assert isinstance(site.allowed_origins, tuple)
    assert _is_utc(site.created_at)
    assert await queries.site_by_key(session, "no-such-site") is None


async def test_campaign_row_names_its_status_and_times(session: AsyncSession) -> None:
    list_ids = list((await queries.list_ids_by_slug(session, ["kultur"])).values())
    campaign_id = await queries.insert_campaign(
        session, {"subject": "Hej", "body": "<p>Hej</p>"}, list_ids
    )
    await session.commit()
    row = await queries.campaign_by_id(session, campaign_id)
    assert isinstance(row, queries.CampaignRow)
    assert row.status is CampaignStatus.DRAFT
    assert row.body_text is None and row.send_requested_at is None
    assert _is_utc(row.created_at) and _is_utc(row.updated_at)
    assert await queries.campaign_page(session, 10, 0) == [row]
    assert await queries.campaign_run_rows(session, [campaign_id]) == {}
    assert await queries.failed_deliveries(session, campaign_id, 10, 0) == []
