"""Youth lists: a minor joins only with a guardian's confirmation, an older child confirms
themself, minors' data stays minimal, and a minor who passes the age confirms their own
consent. Real HTTP, Redis, SMTP and both databases."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions.age_review import send_due_reviews
from services.subscriptions.app import create_app
from services.subscriptions.i18n import load_translations
from services.subscriptions.outbox import Outbox
from services.subscriptions.pages import Renderer
from shared.db import create_sessionmaker
from shared.jobs import create_job_pool
from shared.links import sign_export
from shared.queues import SEND_AGE_REVIEWS, SUBSCRIPTIONS_QUEUE, TRANSACTIONAL_QUEUE
from shared.schema import mailing_lists, subscribers
from shared.settings import Settings
from shared.tokens import TokenSigner
from tests.subscriptions.conftest import (
    all_subscribers,
    all_subscriptions,
    confirm_token,
    queued_mails,
    subscribe_json,
)
from tests.subscriptions.residents import consent_rows
from tests.subscriptions.test_public_fields import seed_field
from tests.support.smtp import RecordingSMTPServer

GUARDIAN_LINK = re.compile(r"http://subscriptions\.test(/guardian/[A-Za-z0-9_.\-]+)")
REVIEW_LINK = re.compile(r"http://subscriptions\.test(/age-review/[A-Za-z0-9_.\-]+)")
THIS_YEAR = datetime.now(UTC).year


async def make_youth_list(engine: AsyncEngine, list_id: int, fields: list[str] | None) -> None:
    """Mark a seeded list as a youth list (what staff do in the campaigns service)."""
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(mailing_lists)
            .where(mailing_lists.c.id == list_id)
            .values(youth=True, youth_fields=fields)
        )


@pytest.fixture
async def youth(engine: AsyncEngine, lists: dict[str, int]) -> int:
    """The list "born" as a youth list on which minors may give the field "skole"."""
    await make_youth_list(engine, lists["born"], ["skole"])
    return lists["born"]


async def test_a_twelve_year_old_in_malmo_joins_only_when_the_guardian_confirms(
    settings: Settings,
    live_server: Any,
    engine: AsyncEngine,
    youth: int,
    smtp_server: RecordingSMTPServer,
) -> None:
    worker = pytest.importorskip("services.mailer.worker")
    # Even with IP recording on, nothing of a minor's IP is kept.
    recording = dataclasses.replace(settings, record_consent_ip=True)
    async with (
        live_server(create_app(recording)) as server,
        httpx.AsyncClient(base_url=server.url, follow_redirects=False, timeout=10) as http,
    ):
        form = await http.get("/subscribe?lang=sv")
        assert "Födelseår" in form.text and 'name="guardian_email"' in form.text
        answer = await http.post(
            "/subscribe",
            data={
                "email": "elsa@malmo.example.se",
                "lists": "born",
                "language": "sv",
                "consent": "on",
                "birth_year": str(THIS_YEAR - 12),
                "guardian_email": "mamma@malmo.example.se",
            },
        )
        assert answer.status_code == 303
        await worker.run_worker(settings, burst=True)

        # The guardian gets the mail, in Swedish and in plain words; the child gets nothing.
        assert smtp_server.to("elsa@malmo.example.se") == []
        [message] = smtp_server.to("mamma@malmo.example.se")
        parsed = message.parsed()
        assert "ditt barns anmälan" in str(parsed["Subject"])
        text_part = parsed.get_body(("plain",))
        assert text_part is not None
        text = text_part.get_content()
        assert "elsa@malmo.example.se" in text and str(THIS_YEAR - 12) in text
        assert "IP-adress" in text
        link = GUARDIAN_LINK.search(text)
        assert link and "/confirm/" not in text
        assert (await all_subscriptions(engine))[youth]["status"] == "pending"

        # Opening the link changes nothing; the page says what is kept and why.
        page = await http.get(link.group(1))
        assert page.status_code == 200 and "Barn och unga" in page.text
        assert (await all_subscriptions(engine))[youth]["status"] == "pending"

        confirmed = await http.post(link.group(1))
        assert confirmed.status_code == 200
        assert (await all_subscriptions(engine))[youth]["status"] == "confirmed"
        again = await http.post(link.group(1))
        assert again.status_code == 200

    [child] = await all_subscribers(engine)
    assert child["minor"] is True and child["birth_year"] == THIS_YEAR - 12
    assert child["guardian_email"] == "mamma@malmo.example.se"
    events = await consent_rows(engine)
    assert [(e["event"], e["consented_by"]) for e in events] == [
        ("requested", "resident"),
        ("confirmed", "guardian"),
    ]
    assert {e["ip"] for e in events} == {None}


async def test_a_minors_own_confirm_link_cannot_stand_in_for_the_guardian(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, youth: int, signer: TokenSigner
) -> None:
    from shared.links import sign_confirm

    response = await subscribe_json(
        client,
        email="noah@example.se",
        lists=["born"],
        birth_year=THIS_YEAR - 11,
        guardian_email="pappa@example.se",
    )
    assert response.status_code == 202
    [mail] = await queued_mails(redis)
    assert mail.to == "pappa@example.se"
    [child] = await all_subscribers(engine)
    forged = sign_confirm(signer, child["key"], [youth])

    answer = await client.post(f"/confirm/{forged}")

    assert answer.status_code == 410
    assert (await all_subscriptions(engine))[youth]["status"] == "pending"


async def test_a_fourteen_year_old_confirms_themself(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, youth: int
) -> None:
    response = await subscribe_json(
        client, email="liv@example.dk", lists=["born"], birth_year=THIS_YEAR - 14
    )
    assert response.status_code == 202
    [mail] = await queued_mails(redis)
    assert mail.to == "liv@example.dk"

    confirmed = await client.post(f"/confirm/{confirm_token(mail)}")

    assert confirmed.status_code == 200
    assert (await all_subscriptions(engine))[youth]["status"] == "confirmed"
    [resident] = await all_subscribers(engine)
    assert resident["minor"] is False and resident["birth_year"] == THIS_YEAR - 14
    assert resident["guardian_email"] is None
    events = await consent_rows(engine)
    assert [(e["event"], e["consented_by"]) for e in events] == [
        ("requested", "resident"),
        ("confirmed", "resident"),
    ]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "birth_year"),
        ({"birth_year": "20x2"}, "birth_year"),
        ({"birth_year": THIS_YEAR + 1}, "birth_year"),
        ({"birth_year": THIS_YEAR - 12}, "guardian_email"),
        ({"birth_year": THIS_YEAR - 12, "guardian_email": "not-an-address"}, "guardian_email"),
    ],
)
async def test_a_youth_sign_up_without_what_it_needs_is_refused_with_a_reason(
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    youth: int,
    fields: dict[str, Any],
    problem: str,
) -> None:
    response = await subscribe_json(client, email="ida@example.dk", lists=["born"], **fields)

    assert response.status_code == 422
    assert problem in response.json()["errors"]
    assert await all_subscribers(engine) == []
    assert await queued_mails(redis) == []


async def test_the_form_explains_the_youth_fields_and_shows_their_errors(
    client: httpx.AsyncClient, youth: int
) -> None:
    answer = await client.post(
        "/subscribe",
        data={
            "email": "ida@example.dk",
            "lists": "born",
            "language": "da",
            "consent": "on",
            "birth_year": str(THIS_YEAR - 10),
        },
    )

    assert answer.status_code == 422
    assert "forælders eller værges e-mailadresse" in answer.text
    assert 'href="#guardian_email"' in answer.text


async def test_lists_that_are_no_youth_lists_ask_nothing_more(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, lists: dict[str, int]
) -> None:
    form = await client.get("/subscribe?lang=en")
    assert 'name="birth_year"' not in form.text

    response = await subscribe_json(client, email="ole@example.dk", lists=["kultur"])

    assert response.status_code == 202
    [resident] = await all_subscribers(engine)
    assert resident["birth_year"] is None and resident["minor"] is False


async def test_a_minor_keeps_only_the_custom_fields_the_youth_list_allows(
    client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, youth: int
) -> None:
    await seed_field(engine, "skole")
    await seed_field(engine, "telefon")

    response = await subscribe_json(
        client,
        email="alma@example.dk",
        lists=["born"],
        birth_year=THIS_YEAR - 9,
        guardian_email="far@example.dk",
        custom={"skole": "Vesterbro Skole", "telefon": "12345678"},
    )

    assert response.status_code == 202
    [child] = await all_subscribers(engine)
    assert child["custom_values"] == {"skole": "Vesterbro Skole"}


async def test_a_minor_who_passes_the_age_is_asked_once_to_confirm_their_own_consent(
    settings: Settings,
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    youth: int,
) -> None:
    await subscribe_json(
        client,
        email="theo@example.dk",
        lists=["born"],
        birth_year=THIS_YEAR - 12,
        guardian_email="mor@example.dk",
    )
    [guardian_mail] = await queued_mails(redis)
    link = GUARDIAN_LINK.search(guardian_mail.text)
    assert link
    await client.post(link.group(1))
    await redis.delete(TRANSACTIONAL_QUEUE)
    jobs = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    try:
        outbox = Outbox(
            jobs, TokenSigner(settings.secret_keys), Renderer(load_translations()), settings
        )
        sessions = create_sessionmaker(engine)
        today = datetime.now(UTC).date()
        # Not yet: born twelve years ago, Theo may still be under 13 all this year.
        assert await send_due_reviews(sessions, outbox, today=today) == 0
        # Two years on he surely is 13.
        later = today.replace(year=today.year + 2)
        assert await send_due_reviews(sessions, outbox, today=later) == 1
        assert await send_due_reviews(sessions, outbox, today=later) == 0  # asked once
    finally:
        await jobs.aclose()

    [review] = await queued_mails(redis)
    assert review.to == "theo@example.dk"
    review_link = REVIEW_LINK.search(review.text)
    assert review_link
    page = await client.get(review_link.group(1))
    assert page.status_code == 200 and "Børn og unge" in page.text
    [child] = await all_subscribers(engine)
    assert child["minor"] is True

    done = await client.post(review_link.group(1))

    assert done.status_code == 200
    [child] = await all_subscribers(engine)
    assert child["minor"] is False and child["guardian_email"] is None
    events = await consent_rows(engine)
    assert [(e["event"], e["consented_by"]) for e in events] == [
        ("requested", "resident"),
        ("confirmed", "guardian"),
        ("confirmed", "resident"),
    ]
    # The guardian's link no longer applies once the resident decides for themself.
    assert (await client.post(link.group(1))).status_code == 410


async def test_the_subscriptions_worker_runs_the_age_review(
    settings: Settings,
    client: httpx.AsyncClient,
    redis: Redis,
    engine: AsyncEngine,
    youth: int,
) -> None:
    worker = pytest.importorskip("services.subscriptions.worker")
    await subscribe_json(
        client,
        email="vera@example.se",
        lists=["born"],
        language="sv",
        birth_year=THIS_YEAR - 12,
        guardian_email="farmor@example.se",
    )
    [guardian_mail] = await queued_mails(redis)
    link = GUARDIAN_LINK.search(guardian_mail.text)
    assert link
    await client.post(link.group(1))
    await redis.delete(TRANSACTIONAL_QUEUE)
    # Time passes: Vera's year of birth now says she is surely past the age.
    async with engine.begin() as conn:
        await conn.execute(sa.update(subscribers).values(birth_year=THIS_YEAR - 15))

    pool = await create_job_pool(settings.redis_url, SUBSCRIPTIONS_QUEUE)
    try:
        job = await pool.enqueue_job(SEND_AGE_REVIEWS.name)
        assert job is not None
        await worker.run_worker(settings, burst=True)
        assert await job.result(timeout=5) == 1
    finally:
        await pool.aclose()

    [review] = await queued_mails(redis)
    assert review.to == "vera@example.se"
    assert "Nu kan du bestämma själv" in review.subject
    assert REVIEW_LINK.search(review.text)


async def test_a_tampered_guardian_link_is_refused(client: httpx.AsyncClient, youth: int) -> None:
    answer = await client.get("/guardian/not-a-token")
    assert answer.status_code == 400
    answer = await client.post("/age-review/not-a-token")
    assert answer.status_code == 400


async def test_a_minors_export_shows_the_youth_data_and_who_consented(
    settings: Settings, client: httpx.AsyncClient, redis: Redis, engine: AsyncEngine, youth: int
) -> None:
    await subscribe_json(
        client,
        email="ella@example.dk",
        lists=["born"],
        birth_year=THIS_YEAR - 10,
        guardian_email="far@example.dk",
    )
    [guardian_mail] = await queued_mails(redis)
    link = GUARDIAN_LINK.search(guardian_mail.text)
    assert link
    await client.post(link.group(1))
    [child] = await all_subscribers(engine)
    token = sign_export(TokenSigner(settings.secret_keys), child["key"])

    data = (await client.post(f"/export/{token}")).json()

    person = data["subscriber"]
    assert (person["birth_year"], person["minor"], person["guardian_email"]) == (
        THIS_YEAR - 10,
        True,
        "far@example.dk",
    )
    assert [(e["event"], e["consented_by"], e["ip"]) for e in data["consent_events"]] == [
        ("requested", "resident", None),
        ("confirmed", "guardian", None),
    ]
