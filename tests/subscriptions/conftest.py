"""Fixtures for the subscriptions service: a live app, an HTTP client, seeding and peeking."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.app import create_app
from shared.contracts import OutboundMail
from shared.db import create_engine
from shared.jobs import deserialize_job
from shared.queues import SEND_TRANSACTIONAL, TRANSACTIONAL_QUEUE
from shared.schema import mailing_lists, member_sites, subscribers, subscriptions
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner
from tests.conftest import CLIENT_TLS, app_for

CONFIRM_LINK = re.compile(r"http://subscriptions\.test/confirm/([A-Za-z0-9_.\-]+)")


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database, for seeding and checking rows."""
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def client(
    settings: Settings, live_server: Any, redis: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client against the subscriptions app served on a real port."""
    async with (
        live_server(app_for(create_app, settings)) as server,
        httpx.AsyncClient(
            base_url=server.url, follow_redirects=False, timeout=10, verify=CLIENT_TLS
        ) as http,
    ):
        yield http


@pytest.fixture
def signer(settings: Settings) -> TokenSigner:
    """A signer with the app's keys and ages."""
    return TokenSigner(settings.secret_keys, {Purpose.CONFIRM: settings.confirm_token_max_age})


@pytest.fixture
async def lists(engine: AsyncEngine) -> dict[str, int]:
    """Three public lists and one private list; slug -> id."""
    return {
        "kultur": await seed_list(engine, "kultur", "Kultur i Øresund", "Kultur i Öresund"),
        "musik": await seed_list(engine, "musik", "Musik og koncerter", "Musik och konserter"),
        "born": await seed_list(engine, "born", "Børn og unge", "Barn och unga"),
        "intern": await seed_list(engine, "intern", "Internt", "Internt", public=False),
    }


async def seed_list(
    engine: AsyncEngine, slug: str, name_da: str, name_sv: str, *, public: bool = True
) -> int:
    """Insert a mailing list (owned by campaigns; tests may seed it)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.insert(mailing_lists)
            .values(
                slug=slug,
                name_da=name_da,
                name_sv=name_sv,
                name_en=f"{slug.title()} (en)",
                description_da="",
                description_sv="",
                description_en="",
                is_public=public,
                double_optin=True,
                created_at=datetime.now(UTC),
            )
            .returning(mailing_lists.c.id)
        )
        return int(result.scalar_one())


async def seed_site(engine: AsyncEngine, key: str) -> int:
    """Insert a member site."""
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.insert(member_sites)
            .values(
                key=key,
                name="Malmö stadsbibliotek",
                country="SE",
                allowed_origins=[],
                default_lists=[],
                default_language="sv",
                created_at=datetime.now(UTC),
            )
            .returning(member_sites.c.id)
        )
        return int(result.scalar_one())


async def all_subscribers(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every subscriber row."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(subscribers).order_by(subscribers.c.id))
        return [dict(row._mapping) for row in rows]


async def all_subscriptions(engine: AsyncEngine) -> dict[int, dict[str, Any]]:
    """Every subscription row, keyed by list id (tests use one subscriber at a time)."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(subscriptions))
        return {int(row.list_id): dict(row._mapping) for row in rows}


async def queued_mails(redis: Redis) -> list[OutboundMail]:
    """Transactional mails waiting in Redis, read as the mailer would read them."""
    mails = []
    job_ids = await redis.zrange(TRANSACTIONAL_QUEUE, 0, -1)
    for job_id in job_ids:
        raw = await redis.get(b"arq:job:" + job_id)
        assert raw is not None
        job = deserialize_job(raw)
        assert job["f"] == SEND_TRANSACTIONAL.name
        mail = SEND_TRANSACTIONAL.decode(job["a"][0])
        assert job_id.decode() == f"tx:{mail.message_key}"
        mails.append(mail)
    return mails


def confirm_token(mail: OutboundMail) -> str:
    """The token of the confirm link in a mail's text (and the same in its HTML)."""
    match = CONFIRM_LINK.search(mail.text)
    assert match, mail.text
    assert mail.html is not None and match.group(0) in mail.html
    return match.group(1)


async def subscribe_json(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    """POST /subscribe as JSON with sensible defaults."""
    body: dict[str, Any] = {
        "email": "maja@example.org",
        "lists": ["kultur"],
        "language": "da",
        "consent": True,
    }
    body.update(fields)
    return await client.post("/subscribe", json=body)
