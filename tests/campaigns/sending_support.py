"""Helpers for the sending tests: subscribers on a demo list, local times around DST changes,
and reads of the audit trail and the job queue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.schema import mailing_lists, staff_audit, subscribers, subscriptions
from tests.support.eligibility import recount_confirmed_lists

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


async def add_subscribers(
    db: AsyncEngine, slug: str, people: list[tuple[str, str, str]]
) -> dict[str, int]:
    """Confirmed subscribers (address, name, language) on the list ``slug``; ids by address."""
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    async with db.begin() as conn:
        list_id = (
            await conn.execute(sa.select(mailing_lists.c.id).where(mailing_lists.c.slug == slug))
        ).scalar_one()
        for number, (email, name, language) in enumerate(people):
            result = await conn.execute(
                sa.insert(subscribers).values(
                    key=f"k{slug}{number:05d}"[:32],
                    email=email,
                    name=name,
                    language=language,
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
            )
            ids[email] = int(result.inserted_primary_key[0])
            await conn.execute(
                sa.insert(subscriptions).values(
                    subscriber_id=ids[email],
                    list_id=list_id,
                    status="confirmed",
                    requested_at=now,
                    confirmed_at=now,
                )
            )
        await conn.execute(recount_confirmed_lists())
    return ids


async def audit_actions(db: AsyncEngine, object_ref: str) -> list[tuple[str, str]]:
    """(actor, action) of every staff audit entry about ``object_ref``, oldest first."""
    async with db.connect() as conn:
        rows = await conn.execute(
            sa.select(staff_audit.c.actor, staff_audit.c.action)
            .where(staff_audit.c.object == object_ref)
            .order_by(staff_audit.c.id)
        )
        return [(str(actor), str(action)) for actor, action in rows.all()]


def next_change(month: int) -> date:
    """The next last Sunday of ``month`` (March: summer time begins; October: it ends) that
    lies ahead, so the tests keep working in any year."""
    today = datetime.now(UTC).date()
    year = today.year
    while True:
        last = date(year, month + 1, 1) - timedelta(days=1)
        sunday = last - timedelta(days=(last.weekday() - 6) % 7)
        if sunday > today + timedelta(days=1):
            return sunday
        year += 1


def local_soon(seconds: float, zone: ZoneInfo = COPENHAGEN) -> str:
    """The wall-clock time ``seconds`` from now in ``zone``, without offset (as staff type it)."""
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.astimezone(zone).replace(tzinfo=None).isoformat()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until ``check`` holds, polling; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def summer_day() -> date:
    """A day ahead, within the year, in summer time (UTC+2 in Copenhagen and Stockholm)."""
    day = next_change(10) - timedelta(days=20)
    return (
        day
        if day > datetime.now(UTC).date() + timedelta(days=1)
        else next_change(3) + timedelta(days=20)
    )


def winter_day() -> date:
    """A day ahead, within the year, in standard time (UTC+1)."""
    day = next_change(3) - timedelta(days=20)
    return (
        day
        if day > datetime.now(UTC).date() + timedelta(days=1)
        else next_change(10) + timedelta(days=7)
    )
