"""Staff CSV imports run by the subscriptions service: line numbers of refused lines, what is
skipped and counted, the attestation in the consent record, double opt-in mode, resuming."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions import queries
from services.subscriptions.i18n import load_translations
from services.subscriptions.import_rows import checked_email
from services.subscriptions.imports import (
    Attestation,
    ImportRefused,
    ImportRequest,
    run_import,
)
from services.subscriptions.outbox import Outbox
from services.subscriptions.pages import Renderer
from services.subscriptions.schemas import check_email
from shared.addresses import address_digest
from shared.db import create_sessionmaker
from shared.jobs import create_job_pool
from shared.queues import TRANSACTIONAL_QUEUE
from shared.schema import (
    audit_log,
    consent_events,
    imports,
    subscribers,
    subscriptions,
    suppressions,
)
from shared.settings import Settings
from shared.tokens import Purpose, TokenSigner
from tests.subscriptions.conftest import queued_mails

ATTESTATION = Attestation(
    basis="GDPR art. 6(1)(a), consent",
    collected="2026-09 at the library's autumn fair",
    method="paper sign-up sheet with the consent text",
    attested_by="Sara Holm, communications",
)

# Line numbers as a spreadsheet shows them; line 10 opens a quoted name that ends on line 11.
BAD_FILE = (
    "E-mail;Navn;Sprog;Kommune\r\n"  # 1
    "maja@example.org;Maja;da;København\r\n"  # 2
    "not-an-address;Bo;da;\r\n"  # 3: bad address
    "ole@example.dk;Ole;xx;\r\n"  # 4: unknown language
    "MAJA@Example.org;Maja igen;;\r\n"  # 5: the address of line 2 again
    "erased@example.org;;;\r\n"  # 6: erased (suppressed)
    "bounced@example.org;;;\r\n"  # 7: bounced (suppressed)
    "left@example.org;;;\r\n"  # 8: had left the list: kept out
    "known@example.org;New Name;sv;\r\n"  # 9: already confirmed: unchanged
    '"anna@example.org";"Anna\r\n'  # 10: a line break inside the name
    'Lund";da;\r\n'  # 11
    "long@example.org;" + "x" * 201 + ";;\r\n"  # 12: name too long
    "\r\n"  # 13: blank, ignored
    "kim@example.se;Kim;sv;Malmö;\r\n"  # 14
    "complained@example.org;;;\r\n"  # 15: complained once (suppressed)
    "pending@example.org;;;\r\n"  # 16: pending on the list: the attestation confirms it
)


@pytest.fixture
async def jobs(settings: Settings, redis: Redis) -> AsyncIterator[ArqRedis]:
    """The transactional queue, where confirmation mails go."""
    pool = await create_job_pool(settings.redis_url, TRANSACTIONAL_QUEUE)
    yield pool
    await pool.aclose()


@pytest.fixture
def outbox(settings: Settings, jobs: ArqRedis) -> Outbox:
    """What the confirm mode mails with."""
    signer = TokenSigner(settings.secret_keys, {Purpose.CONFIRM: settings.confirm_token_max_age})
    return Outbox(jobs, signer, Renderer(load_translations()), settings)


async def _seed_residents(engine: AsyncEngine, list_id: int) -> dict[str, int]:
    """Known residents in the states an import must respect; address -> id."""
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    async with engine.begin() as conn:
        for email, status, name in [
            ("bounced@example.org", "bounced", None),
            ("left@example.org", "active", None),
            ("known@example.org", "active", "Old Name"),
            ("complained@example.org", "active", None),
            ("pending@example.org", "active", None),
        ]:
            ids[email] = await conn.scalar(
                sa.insert(subscribers)
                .values(
                    key=email.split("@")[0].ljust(32, "0"),
                    email=email,
                    name=name,
                    language="da",
                    status=status,
                    created_at=now,
                    updated_at=now,
                )
                .returning(subscribers.c.id)
            )
        states = {"left": "unsubscribed", "known": "confirmed", "pending": "pending"}
        for local, state in states.items():
            await conn.execute(
                sa.insert(subscriptions).values(
                    subscriber_id=ids[f"{local}@example.org"],
                    list_id=list_id,
                    status=state,
                    requested_at=now,
                )
            )
        await conn.execute(
            sa.insert(consent_events).values(
                subscriber_id=ids["complained@example.org"],
                list_id=list_id,
                event="withdrawn",
                at=now,
                form="complaint",
                language="da",
            )
        )
        await conn.execute(
            sa.insert(suppressions).values(
                email_hash=address_digest("erased@example.org"), reason="erased", created_at=now
            )
        )
    return ids


def _request(key: str, **changes: Any) -> ImportRequest:
    fields: dict[str, Any] = {
        "key": key,
        "list_slug": "kultur",
        "actor": "staff:user:1",
        "mode": "attested",
        "attestation": ATTESTATION,
    }
    fields.update(changes)
    return ImportRequest(**fields)


async def _rejects(engine: AsyncEngine, key: str) -> list[tuple[int, str, str, str | None]]:
    async with create_sessionmaker(engine)() as session, session.begin():
        job = await queries.get_import(session, key)
        assert job is not None
        return [
            (r.line, r.field, r.problem, r.detail)
            async for r in queries.stream_rejects(session, job.id, batch=2)
        ]


async def _list_states(engine: AsyncEngine, list_id: int) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(subscribers.c.email, subscriptions.c.status)
            .join(subscriptions, subscriptions.c.subscriber_id == subscribers.c.id)
            .where(subscriptions.c.list_id == list_id)
        )
        return {str(email): str(status) for email, status in rows}


async def test_bad_lines_are_reported_by_line_and_the_rest_imported_with_the_attestation(
    engine: AsyncEngine, lists: dict[str, int], redis: Redis
) -> None:
    await _seed_residents(engine, lists["kultur"])
    sessions = create_sessionmaker(engine)
    seen: list[int] = []

    job = await run_import(
        sessions,
        _request("imp-1"),
        io.BytesIO(BAD_FILE.encode()),
        batch_rows=3,  # several batches: the duplicate on line 5 is in another one
        progress=lambda row: seen.append(row.lines_done),
    )

    assert await _rejects(engine, "imp-1") == [
        (3, "email", "invalid", None),
        (4, "language", "unknown", None),
        (5, "email", "duplicate", "line 2"),
        (10, "name", "invalid", None),
        (12, "name", "too_long", "200"),
    ]
    assert job.state == "finished" and job.lines_done == 16 and job.rows_done == 13
    counts = {name: getattr(job, name) for name in queries.COUNTERS}
    assert counts == {
        "added": 3,  # maja, kim and the resident who was pending on the list
        "updated": 0,
        "unchanged": 1,
        "invalid": 4,
        "duplicates": 1,
        "suppressed": 3,
        "withdrawn": 1,
    }
    assert seen == sorted(seen) and len(seen) > 2 and seen[-1] == 16
    assert await _list_states(engine, lists["kultur"]) == {
        "maja@example.org": "confirmed",
        "kim@example.se": "confirmed",
        "left@example.org": "unsubscribed",
        "known@example.org": "confirmed",
        "pending@example.org": "confirmed",
    }
    async with engine.connect() as conn:
        people = {
            row.email: row
            for row in await conn.execute(
                sa.select(
                    subscribers.c.email,
                    subscribers.c.name,
                    subscribers.c.language,
                    subscribers.c.municipality,
                    subscribers.c.id,
                )
            )
        }
        consent = (
            await conn.execute(
                sa.select(
                    consent_events.c.subscriber_id,
                    consent_events.c.event,
                    consent_events.c.form,
                    imports.c.consent_basis,
                    imports.c.attested_by,
                )
                .join(imports, imports.c.id == consent_events.c.import_id)
                .order_by(consent_events.c.id)
            )
        ).all()
        audit = (await conn.execute(sa.select(audit_log.c.action, audit_log.c.details))).all()
    assert "erased@example.org" not in people and "long@example.org" not in people
    assert people["maja@example.org"].municipality == "dk-koebenhavn"
    assert (people["kim@example.se"].language, people["kim@example.se"].name) == ("sv", "Kim")
    assert people["known@example.org"].name == "Old Name"  # not updated unless asked
    maja = people["maja@example.org"].id
    assert [(event, form) for sid, event, form, *_ in consent if sid == maja] == [
        ("confirmed", "import")
    ]
    assert {(basis, who) for *_, basis, who in consent} == {
        (ATTESTATION.basis, ATTESTATION.attested_by)
    }
    [(action, details)] = audit
    assert action == "imported" and details["added"] == 3 and details["import"] == "imp-1"
    assert "maja" not in str(details)

    # Running the same import again changes nothing: it is finished.
    again = await run_import(sessions, _request("imp-1"), io.BytesIO(BAD_FILE.encode()))
    assert again.added == 3 and len(await _rejects(engine, "imp-1")) == 5


async def test_a_confirm_import_resumes_after_a_crash_and_mails_each_address_once(
    engine: AsyncEngine, lists: dict[str, int], redis: Redis, outbox: Outbox
) -> None:
    ids = await _seed_residents(engine, lists["kultur"])
    sessions = create_sessionmaker(engine)
    lines = ["email,name,language,custom_unknown"]
    lines += [f"person{n}@example.org,Person {n},sv," for n in range(7)]
    lines += ["known@example.org,New Name,en,", "pending@example.org,,,"]
    data = ("\n".join(lines) + "\n").encode()
    request = _request(
        "imp-2",
        mode="confirm",
        attestation=None,
        update_existing=True,
        columns={"email": "email", "name": "name", "language": "language"},
    )

    def crash_after_first_batch(row: queries.ImportRow) -> None:
        raise RuntimeError("the worker died")

    with pytest.raises(RuntimeError):
        await run_import(
            sessions,
            request,
            io.BytesIO(data),
            outbox=outbox,
            batch_rows=4,
            progress=crash_after_first_batch,
            confirmations_per_minute=0,  # unpaced
        )
    async with sessions() as session, session.begin():
        halfway = await queries.get_import(session, "imp-2")
    assert halfway is not None
    assert (halfway.state, halfway.failure, halfway.lines_done) == ("failed", "RuntimeError", 5)
    assert len(await queued_mails(redis)) == 4

    job = await run_import(
        sessions,
        request,
        io.BytesIO(data),
        outbox=outbox,
        batch_rows=4,
        confirmations_per_minute=0,
    )

    assert (job.state, job.lines_done, job.added, job.updated, job.unchanged) == (
        "finished",
        10,
        7,
        1,
        1,
    )
    mails = await queued_mails(redis)
    assert sorted(mail.to for mail in mails) == [f"person{n}@example.org" for n in range(7)]
    assert all(mail.category == "confirm" for mail in mails)
    assert "Bekräfta" in mails[0].subject or "bekräfta" in mails[0].text.lower()
    states = await _list_states(engine, lists["kultur"])
    assert states["person6@example.org"] == "pending"
    assert states["pending@example.org"] == "pending"  # confirm mode never confirms
    async with engine.connect() as conn:
        name = await conn.scalar(
            sa.select(subscribers.c.name).where(subscribers.c.id == ids["known@example.org"])
        )
        events = (
            await conn.execute(
                sa.select(consent_events.c.event, consent_events.c.form).where(
                    consent_events.c.import_id.is_not(None)
                )
            )
        ).all()
    assert name == "New Name"
    assert sorted(set(events)) == [("requested", "import")] and len(events) == 7


async def test_an_import_that_cannot_start_says_why_and_stores_nothing(
    engine: AsyncEngine, lists: dict[str, int]
) -> None:
    sessions = create_sessionmaker(engine)
    data = b"email\nmaja@example.org\n"
    refusals = [
        (
            _request("a", attestation=None),
            {
                "attestation.basis",
                "attestation.collected",
                "attestation.method",
                "attestation.attested_by",
            },
        ),
        (
            _request("b", attestation=Attestation("x" * 201, "now", "form", "me")),
            {"attestation.basis"},
        ),
        (_request("c", list_slug="nope"), {"list"}),
        (_request("d", columns={"email": "E-mail"}), {"columns"}),
        (_request("e", columns={"shoe_size": "email"}), {"columns"}),
        (_request("f", mode="maybe", default_language="de"), {"mode", "default_language"}),
    ]
    for request, fields in refusals:
        with pytest.raises(ImportRefused) as refused:
            await run_import(sessions, request, io.BytesIO(data))
        assert set(refused.value.problems) == fields, request
    with pytest.raises(ImportRefused) as refused:
        await run_import(sessions, _request("g"), io.BytesIO(b"name;language\nBo;da\n"))
    assert refused.value.problems == {"columns": "no_email_column"}
    with pytest.raises(ImportRefused) as refused:
        await run_import(sessions, _request("h"), io.BytesIO(b""))
    assert refused.value.problems == {"file": "no_header"}
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(imports)) == 0
        assert await conn.scalar(sa.select(sa.func.count()).select_from(subscribers)) == 0


def test_the_import_address_check_agrees_with_the_sign_up_check() -> None:
    addresses = [
        "maja@example.org",
        "Maja.Lund+news@Example.ORG",
        "o'brien@kultur.dk",
        "a@b",
        "dots..twice@example.org",
        ".leading@example.org",
        '"quoted local"@example.org',
        "åsa@example.se",
        "asa@exämple.se",
        "x@xn--exmple-cua.se",
        "no-at-sign",
        "two@@example.org",
        "trailing@example.org.",
        "space in@example.org",
        "l" * 65 + "@example.org",
        "a@" + "d" * 250 + ".dk",
        "tab\t@example.org",
        "",
    ]
    for address in addresses:
        fast: dict[str, Any] = {}
        full: dict[str, Any] = {}
        assert (checked_email(address, fast), fast) == (check_email(address, full), full), address
