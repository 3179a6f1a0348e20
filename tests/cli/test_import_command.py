"""``brevdue import`` and ``brevdue export``: CSV into and out of a list from the command
line (run in this process: a subprocess pays for importing the services each time)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from brevdue_cli.main import main
from shared.db import create_engine
from shared.schema import subscribers
from tests.subscriptions.conftest import seed_list

SECRET = "a-secret-key-for-cli-tests-0123456789"


async def _seed(database_url: str) -> None:
    engine = create_engine(database_url)
    await seed_list(engine, "kultur", "Kultur", "Kultur")
    await engine.dispose()


async def _names(database_url: str) -> dict[str, str | None]:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(subscribers.c.email, subscribers.c.name))).all()
    await engine.dispose()
    return {str(email): name for email, name in rows}


@pytest.mark.one_database
def test_import_prints_counts_and_writes_the_rejected_lines(
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(_seed(database_url))
    people = tmp_path / "people.csv"
    people.write_text("Mail,Navn\nmaja@example.org,Maja\nnot-an-address,Bo\nkim@example.se,\n")
    for name, value in [
        ("BREVDUE_SECRET_KEYS", SECRET),
        ("BREVDUE_DATABASE_URL", database_url),
        ("BREVDUE_REDIS_URL", redis_url),
    ]:
        monkeypatch.setenv(name, value)
    command = ["import", str(people), "--list", "kultur", "--basis", "consent"]
    command += ["--collected", "2026-10", "--method", "paper", "--map", "email=Mail"]

    assert main(command) == 1
    assert "attestation.attested_by: required" in capsys.readouterr().err

    assert main([*command, "--attested-by", "Sara Holm", "--map", "name=Navn"]) == 0

    out = capsys.readouterr().out
    assert "added 2" in out and "invalid 1" in out
    report = (tmp_path / "people.rejected.csv").read_text().splitlines()
    assert report == ["line,field,problem,detail", "3,email,invalid,"]
    assert asyncio.run(_names(database_url)) == {"maja@example.org": "Maja", "kim@example.se": None}

    exported = tmp_path / "kultur.csv"
    assert main(["export", "--list", "kultur", "-o", str(exported)]) == 0
    rows = exported.read_text().splitlines()
    assert rows[0].startswith("email,name,language,municipality,status")
    assert sorted(row.split(",")[0] for row in rows[1:]) == ["kim@example.se", "maja@example.org"]
    assert main(["export", "--list", "nope"]) == 1
