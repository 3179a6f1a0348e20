"""What a sign-up and a one-click unsubscribe cost the database and Redis: the statements,
transactions and Redis round trips counted here are the HTTP benchmark's figures; a change that
adds one shows here."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.http.statements import counting_database, counting_redis
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


async def test_a_first_sign_up_is_one_statement_on_postgresql_six_elsewhere(
    client: httpx.AsyncClient, settings: Settings, lists: dict[str, int], redis: Redis
) -> None:
    app_engine = app_for(create_app, settings).state.engine
    # The first sign-up also reads the public custom fields and lists, kept for the next ones.
    assert (await subscribe_json(client, email="first@example.org")).status_code == 202
    with counting_database(app_engine) as counts, counting_redis() as trips:
        assert (await subscribe_json(client, email="second@example.org")).status_code == 202
    if app_engine.dialect.name == "postgresql":
        # Every row in one statement, as the lists read last still hold and the address is
        # neither known nor erased (queries/first_signup.py).
        assert counts == {"transactions": 1, "statements": 1}
        # Per-client and per-address limits (a script each); then the confirmation-mail
        # allowance, the enqueue and the event in one script (shared.jobs.enqueue_within_limit).
        assert trips == {"redis": 3}
    else:
        # List look-up, suppression and address in one look-up; subscriber, subscription,
        # consent and outbox rows.
        assert counts == {"transactions": 1, "statements": 6}
        # Per-client, per-address and confirmation-mail limits (a script each), the enqueue
        # (one script) and the event published after the commit.
        assert trips == {"redis": 5}
    assert len(await queued_mails(redis)) == 2


async def test_a_sign_up_of_a_known_address_takes_the_general_path(
    client: httpx.AsyncClient, settings: Settings, lists: dict[str, int], redis: Redis
) -> None:
    app_engine = app_for(create_app, settings).state.engine
    assert (await subscribe_json(client, email="again@example.org")).status_code == 202
    with counting_database(app_engine) as counts:
        assert (await subscribe_json(client, email="Again@example.org")).status_code == 202
    general = {"transactions": 1}
    if app_engine.dialect.name == "postgresql":
        # The first sign-up's statement met the address's identity key, and wrote nothing.
        general = {"transactions": 2}
    assert counts["transactions"] == general["transactions"]
    assert counts["statements"] > 2
    assert len(await queued_mails(redis)) == 2


async def test_a_one_click_unsubscribe_is_one_statement_on_postgresql_seven_elsewhere(
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
    with counting_database(app_engine) as counts, counting_redis() as trips:
        answer = await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    if app_engine.dialect.name == "postgresql":
        # The subscriber, the subscriptions left, the count, consent, audit and the lists in
        # one statement (queries/link_withdrawal.py), one transaction.
        assert counts == {"transactions": 1, "statements": 1}
    else:
        # The subscriber; the subscriptions left, locked and recounted; consent, audit; lists.
        assert counts == {"transactions": 1, "statements": 7}
    assert trips == {"redis": 1}  # the event
