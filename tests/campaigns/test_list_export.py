"""``GET /api/lists/{slug}/export.csv``: a list's subscribers as CSV, streamed, audited."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.list_export import export_lines, start_list_export
from services.subscriptions.imports import Attestation, ImportRequest, run_import
from shared.db import create_sessionmaker
from shared.schema import staff_audit
from tests.campaigns.conftest import Api

PEOPLE = (
    "email;name;language;municipality\n"
    "maja@example.org;Maja;da;København\n"
    "kim@example.se;=HYPERLINK(1);sv;Malmö\n"
    "bo@example.dk;Bo;da;\n"
)


async def test_an_admin_exports_a_list_as_csv_page_by_page_and_it_is_audited(
    api: Api, db: AsyncEngine
) -> None:
    sessions = create_sessionmaker(db)
    request = ImportRequest(
        key="seed",
        list_slug="kultur",
        actor="system",
        mode="attested",
        attestation=Attestation("consent", "2026-10", "paper form", "Sara Holm"),
    )
    await run_import(sessions, request, io.BytesIO(PEOPLE.encode()))

    response = await api.get("/api/lists/kultur/export.csv", role="admin")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="kultur.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["email"] for row in rows] == ["maja@example.org", "kim@example.se", "bo@example.dk"]
    assert rows[0]["municipality"] == "dk-koebenhavn" and rows[0]["status"] == "confirmed"
    assert rows[1]["name"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    # Keyset pages of two give the same file.
    async with sessions() as session:
        selection = await start_list_export(session, "kultur", [], actor="system")
    paged = "".join([line async for line in export_lines(sessions, selection, page=2)])
    assert paged == response.text
    assert (await api.get("/api/lists/kultur/export.csv?status=pending", role="admin")).text == (
        response.text.splitlines(keepends=True)[0]
    )
    refused = await api.get("/api/lists/kultur/export.csv?status=nope", role="admin")
    assert refused.status_code == 422
    assert (await api.get("/api/lists/nope/export.csv", role="admin")).status_code == 404
    assert (await api.get("/api/lists/kultur/export.csv", role="editor")).status_code == 403
    async with db.connect() as conn:
        entries = (
            await conn.execute(
                sa.select(staff_audit.c.actor, staff_audit.c.action, staff_audit.c.object)
                .where(staff_audit.c.action == "list.export")
                .order_by(staff_audit.c.id)
            )
        ).all()
    assert [entry.object for entry in entries] == ["list:kultur"] * 3
    assert entries[0].actor.startswith("token:") and entries[1].actor == "system"
