"""Revision 0010: runs the mailer paused become paused campaigns with a reason."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.db import create_engine
from shared.migrate import upgrade
from tests.conftest import POSTGRES_URL, WORKER

BEFORE = "0009_staff_accounts"
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

# The two tables as revision 0009 left them (shared.schema has the new columns already).
campaigns_0009 = sa.table(
    "campaigns",
    sa.column("id"),
    sa.column("subject"),
    sa.column("body"),
    sa.column("status"),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
runs_0009 = sa.table(
    "campaign_runs",
    sa.column("campaign_id"),
    sa.column("state"),
    sa.column("recipients"),
    sa.column("started_at", sa.DateTime(timezone=True)),
    sa.column("finished_at", sa.DateTime(timezone=True)),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0009(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database migrated only as far as revision 0009."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        upgrade(url, BEFORE)
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: set BREVDUE_TEST_DATABASE_URL to run")
    base = make_url(POSTGRES_URL)
    url = base.set(database=f"{base.database}_w{WORKER}_0009").render_as_string(hide_password=False)

    async def reset() -> None:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            name = make_url(url).database
            exists = await conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())
    upgrade(url, BEFORE)
    yield url


async def _seed(url: str) -> None:
    """Campaign 1 paused by the mailer, 2 paused by staff, 3 sending, 4 sent."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        for campaign_id, status, state, finished in (
            (1, "sending", "paused", None),
            (2, "paused", "sending", None),
            (3, "sending", "sending", None),
            (4, "sending", "done", T0),
        ):
            await conn.execute(
                sa.insert(campaigns_0009).values(
                    id=campaign_id,
                    subject="s",
                    body="b",
                    status=status,
                    created_at=T0,
                    updated_at=T0,
                )
            )
            await conn.execute(
                sa.insert(runs_0009).values(
                    campaign_id=campaign_id,
                    state=state,
                    recipients=5,
                    started_at=T0,
                    finished_at=finished,
                )
            )
    await engine.dispose()


async def _read(url: str) -> dict[int, tuple[str, bool, str, bool]]:
    """Per campaign: (status, has a reason, run state, run has a request time)."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT c.id, c.status, c.pause_reason, r.state, r.pause_requested_at "
                "FROM campaigns c JOIN campaign_runs r ON r.campaign_id = c.id ORDER BY c.id"
            )
        )
        found = {
            int(row[0]): (str(row[1]), row[2] is not None, str(row[3]), row[4] is not None)
            for row in rows
        }
    await engine.dispose()
    return found


def test_runs_the_mailer_paused_become_paused_campaigns(database_at_0009: str) -> None:
    asyncio.run(_seed(database_at_0009))
    upgrade(database_at_0009)
    assert asyncio.run(_read(database_at_0009)) == {
        1: ("paused", True, "pause_requested", True),
        2: ("paused", False, "sending", False),
        3: ("sending", False, "sending", False),
        4: ("sending", False, "done", False),
    }
