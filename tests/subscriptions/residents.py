"""Helpers for the preference center, consent and GDPR tests: a confirmed resident, rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.contracts import OutboundMail
from shared.queues import TRANSACTIONAL_QUEUE
from shared.schema import audit_log, consent_events, subscribers
from tests.subscriptions.conftest import confirm_token, queued_mails, subscribe_json

PREFERENCES_LINK = re.compile(r"http://subscriptions\.test/preferences/([A-Za-z0-9_.\-]+)")
EXPORT_LINK = re.compile(r"http://subscriptions\.test/export/([A-Za-z0-9_.\-]+)")


@dataclass(frozen=True)
class Resident:
    """A signed-up resident and the tokens their confirmation mail carried."""

    email: str
    confirm: str
    preferences: str


def preferences_token(mail: OutboundMail) -> str:
    """The token of the preferences link in a mail's text (and the same in its HTML)."""
    match = PREFERENCES_LINK.search(mail.text)
    assert match, mail.text
    assert mail.html is not None and match.group(0) in mail.html
    return match.group(1)


async def sign_up(
    client: httpx.AsyncClient, redis: Redis, *, confirm: bool = True, **fields: Any
) -> Resident:
    """Sign up over HTTP (JSON), optionally confirm, and empty the mail queue."""
    response = await subscribe_json(client, **fields)
    assert response.status_code == 202, response.text
    [mail] = await queued_mails(redis)
    resident = Resident(mail.to, confirm_token(mail), preferences_token(mail))
    if confirm:
        confirmed = await client.post(f"/confirm/{resident.confirm}")
        assert confirmed.status_code == 200
    await redis.delete(TRANSACTIONAL_QUEUE)
    return resident


async def table_rows(engine: AsyncEngine, table: sa.Table) -> list[dict[str, Any]]:
    """Every row of a table, in insertion order where it has an id."""
    query = sa.select(table)
    if "id" in table.c:
        query = query.order_by(table.c.id)
    async with engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(query)]


async def consent_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every consent event, oldest first."""
    return await table_rows(engine, consent_events)


async def audit_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every audit entry, oldest first."""
    return await table_rows(engine, audit_log)


async def subscriber_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every subscriber row."""
    return await table_rows(engine, subscribers)
