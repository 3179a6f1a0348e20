"""What a sign-up and a one-click unsubscribe cost the database: one transaction each, and the
statements counted here (the HTTP benchmark's figures; a change that adds one shows here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.http.statements import counting_redis
from services.subscriptions.app import create_app
from shared.links import sign_unsubscribe
from shared.settings import Settings
from shared.tokens import TokenSigner
from tests.conftest import app_for
from tests.subscriptions.conftest import (
    all_subscribers,
    confirm_token,
    queued_mails,
    subscribe_json,
)


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[Counter[str]]:
    """Statements and transactions ``engine`` runs while the block runs."""
    counts: Counter[str] = Counter()

    def statement(*_args: Any) -> None:
        counts["statements"] += 1

    def transaction(*_args: Any) -> None:
        counts["transactions"] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(engine.sync_engine, "begin", transaction)
    try:
        yield counts
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)
        event.remove(engine.sync_engine, "begin", transaction)


async def test_a_first_sign_up_is_one_transaction_of_six_statements(
    client: httpx.AsyncClient, settings: Settings, lists: dict[str, int], redis: Redis
) -> None:
    app_engine = app_for(create_app, settings).state.engine
    # The first sign-up also reads the public custom fields, kept for the next ones.
    assert (await subscribe_json(client, email="first@example.org")).status_code == 202
    with counted(app_engine) as counts, counting_redis() as trips:
        assert (await subscribe_json(client, email="second@example.org")).status_code == 202
    # List look-up, suppression and address in one look-up; subscriber, subscription, consent
    # and outbox rows.
    assert counts == {"transactions": 1, "statements": 6}
    # Per-client, per-address and confirmation-mail limits (a script each), the enqueue (one
    # script) and the event published after the commit.
    assert trips == {"redis": 5}
    assert len(await queued_mails(redis)) == 2


async def test_a_one_click_unsubscribe_is_one_transaction_of_seven_statements(
    client: httpx.AsyncClient,
    settings: Settings,
    engine: AsyncEngine,
    lists: dict[str, int],
    redis: Redis,
    signer: TokenSigner,
) -> None:
    app_engine = app_for(create_app, settings).state.engine
    await subscribe_json(client, lists=["kultur"])
    [mail] = await queued_mails(redis)
    await client.post(f"/confirm/{confirm_token(mail)}")
    [subscriber] = await all_subscribers(engine)
    token = sign_unsubscribe(signer, subscriber["key"], 7, [lists["kultur"]])
    with counted(app_engine) as counts, counting_redis() as trips:
        answer = await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    # The subscriber; the subscriptions left, locked and recounted; consent, audit; the lists.
    assert counts == {"transactions": 1, "statements": 7}
    assert trips == {"redis": 1}  # the event
