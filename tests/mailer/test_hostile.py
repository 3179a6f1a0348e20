"""Campaigns that fail for some recipients or cannot start: failed rows and failed runs with
reasons, never a campaign stuck in "sending"."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from redis.asyncio import Redis

from services.mailer import reconcile
from services.mailer.runtime import MailerRuntime
from services.mailer.worker import run_worker
from shared.schema import campaign_runs, campaigns, deliveries
from shared.settings import Settings
from tests.mailer.seed import Person, fetch, ledger, seed
from tests.mailer.support import FAST, enqueue_start
from tests.support.smtp import RecordingSMTPServer

PEOPLE = [
    Person("ok@example.dk", "Ok", "da", {"kultur": "confirmed"}),
    Person("deep@example.dk", "Deep", "da", {"kultur": "confirmed"}),
    Person("huge@example.dk", "Huge", "da", {"kultur": "confirmed"}),
    Person("also.ok@example.dk", "Also", "da", {"kultur": "confirmed"}),
]
# Fine for the sample reader (and most readers); recursion without end or a huge string for some.
PER_READER = (
    "{% macro down(n) %}{% if n > 0 %}{{ down(n + 1) }}{% endif %}{% endmacro %}"
    "<p>Hej {{ subscriber.name }}</p>"
    "{% if subscriber.name == 'Deep' %}{{ down(1) }}{% endif %}"
    "{% if subscriber.name == 'Huge' %}{{ 'a' * 10**9 }}{% endif %}"
)


async def _run(settings: Settings, campaign_id: int) -> None:
    await enqueue_start(settings, campaign_id)
    await run_worker(settings, burst=True, options=FAST)


async def test_a_template_failing_for_some_readers_fails_their_rows_only(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    campaign_id, ids = await seed(
        settings.database_url, PEOPLE, body=PER_READER, campaign_lists_=("kultur",)
    )
    await _run(settings, campaign_id)

    rows = await ledger(settings.database_url, campaign_id)
    by_email = {email: rows[i] for email, i in ids.items()}
    assert by_email["ok@example.dk"]["status"] == "sent"
    assert by_email["also.ok@example.dk"]["status"] == "sent"
    deep, huge = by_email["deep@example.dk"], by_email["huge@example.dk"]
    assert (deep["status"], deep["attempts"]) == ("failed", 1)
    assert "nested deeper" in str(deep["last_response"])
    assert (huge["status"], huge["attempts"]) == ("failed", 1)
    assert "repetition" in str(huge["last_response"])
    run = (await fetch(settings.database_url, sa.select(campaign_runs)))[0]
    assert run["state"] == "done" and run["finished_at"] is not None
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == [
        "also.ok@example.dk",
        "ok@example.dk",
    ]


async def _set_campaign(settings: Settings, campaign_id: int, **values: object) -> None:
    runtime = MailerRuntime.start(settings, FAST)
    async with runtime.engine.begin() as conn:
        await conn.execute(sa.update(campaigns).where(campaigns.c.id == campaign_id).values(values))
    await runtime.close()


async def test_an_unsendable_from_address_fails_the_campaign_once_with_a_reason(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    campaign_id, _ids = await seed(settings.database_url, PEOPLE, campaign_lists_=("kultur",))
    await _set_campaign(settings, campaign_id, from_address="ø@example.org")
    await _run(settings, campaign_id)

    run = (await fetch(settings.database_url, sa.select(campaign_runs)))[0]
    assert run["state"] == "failed"
    assert "SMTPUTF8" in run["failure"] and "ø@example.org" in run["failure"]
    assert run["finished_at"] is not None
    assert await fetch(settings.database_url, sa.select(deliveries)) == []
    assert smtp_server.messages == []
    # The reconciler leaves it alone instead of starting it again every minute.
    runtime = MailerRuntime.start(settings, FAST)
    try:
        later = run["started_at"] + timedelta(hours=1)
        report = await reconcile.reconcile(runtime, redis, now=later)
    finally:
        await runtime.close()
    assert (report.starts, report.batches) == (0, 0)


async def test_a_template_that_does_not_compile_fails_the_campaign_at_start(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    campaign_id, _ids = await seed(
        settings.database_url, PEOPLE, body="<p>{% if %}</p>", campaign_lists_=("kultur",)
    )
    await _run(settings, campaign_id)
    run = (await fetch(settings.database_url, sa.select(campaign_runs)))[0]
    assert run["state"] == "failed"
    assert "does not compile" in run["failure"]
    assert smtp_server.messages == []


async def test_entities_in_the_html_stay_text_in_the_derived_text_part(
    settings: Settings, smtp_server: RecordingSMTPServer, redis: Redis
) -> None:
    body = "<p>Skriv &#123;&#123; nope &#125;&#125; til {{ subscriber.name }}</p>"
    campaign_id, _ids = await seed(
        settings.database_url, PEOPLE[:1], body=body, campaign_lists_=("kultur",)
    )
    await _run(settings, campaign_id)
    rows = await ledger(settings.database_url, campaign_id)
    assert [row["status"] for row in rows.values()] == ["sent"], rows
    message = smtp_server.messages[0].parsed()
    text = message.get_body(("plain",))
    assert text is not None
    assert "Skriv {{ nope }} til Ok" in text.get_content()
