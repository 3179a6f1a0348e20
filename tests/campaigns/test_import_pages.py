"""The staff app's import: upload, column mapping and attestation, progress, rejected lines."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.subscriptions import worker
from shared.schema import staff_audit, subscribers
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import csrf_token, sign_in_as

FILE = (
    "E-mail;Navn;Sprog\r\n"
    "maja@example.org;Maja;da\r\n"
    "not-an-address;Bo;da\r\n"
    "MAJA@example.org;Maja;da\r\n"
    "kim@example.se;Kim;sv\r\n"
).encode("cp1252")


async def test_an_admin_imports_a_file_and_downloads_the_rejected_lines(
    api: Api, settings: Settings, db: AsyncEngine
) -> None:
    client = api.client
    await sign_in_as(client, settings, "admin")
    page = await client.get("/app/import")
    assert page.status_code == 200
    uploaded = await client.post(
        "/app/import",
        data={"_csrf_token": csrf_token(page), "list": "kultur"},
        files={"file": ("people.csv", FILE, "text/csv")},
    )
    assert uploaded.status_code in {302, 303}, uploaded.text
    setup_url = uploaded.headers["location"]
    key = setup_url.split("/")[-1].split("?")[0]
    setup = await client.get(setup_url)
    assert setup.status_code == 200
    # The header's columns are offered, and guessed for the fields they name.
    assert re.search(r'<option value="E-mail" selected>', setup.text)
    assert re.search(r'<option value="Navn" selected>', setup.text)
    form = {
        "_csrf_token": csrf_token(setup),
        "list": "kultur",
        "column.email": "E-mail",
        "column.name": "Navn",
        "column.language": "Sprog",
        "default_language": "da",
        "mode": "attested",
        "consent_basis": "consent",
        "consent_collected": "2026-10, autumn fair",
    }
    refused = await client.post(f"/app/import/{key}", data=form)
    assert refused.status_code == 422
    assert 'aria-invalid="true" aria-describedby="attested_by-errors"' in refused.text

    started = await client.post(
        f"/app/import/{key}",
        data={**form, "consent_method": "paper list", "attested_by": "Sara Holm"},
    )
    assert started.status_code in {302, 303}
    waiting = await client.get(f"/app/import/{key}")
    assert 'hx-trigger="every 2s"' in waiting.text

    await worker.run_worker(settings, burst=True)

    done = await client.get(f"/app/import/{key}/progress")
    assert "hx-trigger" not in done.text  # finished: the polling stops
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", done.text))
    # In Danish: the browser asks for no language, and the staff app's first is Danish.
    assert figures["Tilføjet til listen"] == "2" and figures["Ugyldige linjer"] == "1"
    rejected = await client.get(f"/app/import/{key}/rejected.csv")
    assert rejected.status_code == 200
    assert rejected.text.splitlines() == [
        "line,field,problem,detail",
        "3,email,invalid,",
        "4,email,duplicate,line 2",
    ]
    async with db.connect() as conn:
        emails = set((await conn.scalars(sa.select(subscribers.c.email))).all())
        actions = set((await conn.scalars(sa.select(staff_audit.c.action))).all())
    assert emails == {"maja@example.org", "kim@example.se"}
    assert "import.start" in actions
    assert (await client.get("/app/import/unknown-key")).status_code == 404
