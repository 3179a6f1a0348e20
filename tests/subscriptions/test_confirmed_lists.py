"""``subscribers.confirmed_lists`` follows every confirmation and withdrawal, from the sign-up,
the confirmation link, unsubscribing and imports: it is what segment counts and the mailer read
as "confirmed on some list" (shared.segment_sql.eligible)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.i18n import load_translations
from services.subscriptions.imports import Attestation, ImportRequest, run_import
from services.subscriptions.outbox import Outbox
from services.subscriptions.pages import Renderer
from shared.db import create_sessionmaker
from shared.jobs import create_job_pool
from shared.links import sign_unsubscribe
from shared.queues import TRANSACTIONAL_QUEUE
from shared.schema import subscribers
from shared.segment_sql import eligible
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner
from tests.subscriptions.conftest import confirm_token, queued_mails, subscribe_json


@pytest.fixture
async def outbox(settings: Settings, redis: Redis) -> AsyncIterator[Outbox]:
    """What a confirm-mode import mails with."""
    pool = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    signer = TokenSigner(settings.secret_keys, {Purpose.CONFIRM: settings.confirm_token_max_age})
    yield Outbox(pool, signer, Renderer(load_translations()), settings)
    await pool.aclose()


async def _state(engine: AsyncEngine) -> dict[str, tuple[int, bool]]:
    """Each subscriber's confirmed_lists and whether any audience may hold them, by address."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                subscribers.c.email,
                subscribers.c.confirmed_lists,
                sa.case((eligible(), True), else_=False),
            )
        )
        return {str(email): (int(count), bool(ok)) for email, count, ok in rows}


async def test_the_count_follows_the_confirmation_and_each_withdrawal(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    signer: TokenSigner,
) -> None:
    await subscribe_json(client, email="lea@example.org", lists=["kultur", "musik"])
    assert await _state(engine) == {"lea@example.org": (0, False)}  # pending on both

    [mail] = await queued_mails(redis)
    assert (await client.post(f"/confirm/{confirm_token(mail)}")).status_code == 200
    assert await _state(engine) == {"lea@example.org": (2, True)}
    # The same link again confirms nothing new and counts nothing twice.
    await client.post(f"/confirm/{confirm_token(mail)}")
    assert await _state(engine) == {"lea@example.org": (2, True)}

    async with engine.connect() as conn:
        key = str(await conn.scalar(sa.select(subscribers.c.key)))
    one_list = sign_unsubscribe(signer, key, 7, [lists["kultur"]])
    response = await client.post(f"/unsubscribe/{one_list}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert await _state(engine) == {"lea@example.org": (1, True)}

    every_list = signer.sign(Purpose.UNSUBSCRIBE, [key, 7])
    response = await client.post(
        f"/unsubscribe/{every_list}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert await _state(engine) == {"lea@example.org": (0, False)}


async def test_an_attested_import_counts_new_and_known_residents(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    # Known: confirmed on musik; another known resident is still pending on kultur.
    await subscribe_json(client, email="known@example.org", lists=["musik"])
    [mail] = await queued_mails(redis)
    await client.post(f"/confirm/{confirm_token(mail)}")
    await subscribe_json(client, email="waiting@example.org", lists=["kultur"])
    assert await _state(engine) == {
        "known@example.org": (1, True),
        "waiting@example.org": (0, False),
    }

    attestation = Attestation(
        basis="consent", collected="2026-09", method="paper sheet", attested_by="Sara Holm"
    )
    request = ImportRequest(
        key="imp-count",
        list_slug="kultur",
        actor="staff:user:1",
        mode="attested",
        attestation=attestation,
    )
    data = "email\r\nnew@example.org\r\nknown@example.org\r\nwaiting@example.org\r\n"
    job = await run_import(
        create_sessionmaker(engine), request, io.BytesIO(data.encode()), batch_rows=2
    )

    assert job.state == "finished" and job.added == 3
    assert await _state(engine) == {
        "new@example.org": (1, True),
        "known@example.org": (2, True),
        "waiting@example.org": (1, True),
    }


async def test_a_confirm_mode_import_counts_nobody_until_they_confirm(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    outbox: Outbox,
) -> None:
    request = ImportRequest(
        key="imp-wait", list_slug="kultur", actor="staff:user:1", mode="confirm"
    )
    job = await run_import(
        create_sessionmaker(engine),
        request,
        io.BytesIO(b"email\r\nnew@example.org\r\n"),
        outbox=outbox,
        confirmations_per_minute=60_000,
    )

    assert job.state == "finished" and job.added == 1
    assert await _state(engine) == {"new@example.org": (0, False)}
    [mail] = await queued_mails(redis)
    assert (await client.post(f"/confirm/{confirm_token(mail)}")).status_code == 200
    assert await _state(engine) == {"new@example.org": (1, True)}
