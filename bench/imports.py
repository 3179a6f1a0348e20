"""Time of importing a CSV file of N subscribers into a list on PostgreSQL.

    python -m bench.imports [--rows 100000] [--rounds 3] [--database-url URL]

Each round drops and re-creates the database's schema, migrates it, seeds one list, and times
``services.subscriptions.imports.run_import`` (attested mode: every address is checked, looked
up against suppressions and subscribers, inserted with a confirmed subscription and two consent
records, in batches of 1,000) over a generated file with a name, a language and a municipality
per row and 1% invalid lines. Beside it, in the same round, the reference: a bare ``COPY`` of
the same rows into a temporary table (what the database alone costs to take the data in).
Prints min/median/max of both (and the CPU time the import took in this process, which other
work on a shared machine disturbs less than the wall-clock time) and writes
``bench/results/imports-<time>.json``. The database (default ``bench_imports``) is created
if it does not exist.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.record import describe_run, fresh_postgres_database, write_result
from services.subscriptions.imports import Attestation, ImportRequest, run_import
from shared.db import create_engine, create_sessionmaker
from shared.migrate import upgrade_async
from shared.schema import mailing_lists

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_imports"
MUNICIPALITIES = ("København", "Malmö", "Lund", "Helsingør", "")


def make_csv(rows: int) -> bytes:
    """A file of ``rows`` data lines; every hundredth address is invalid."""
    out = io.StringIO()
    out.write("email;name;language;municipality\n")
    for n in range(rows):
        at = "" if n % 100 == 99 else "@"
        language = ("da", "sv", "en")[n % 3]
        out.write(f"person{n}{at}example.org;Person {n};{language};{MUNICIPALITIES[n % 5]}\n")
    return out.getvalue().encode()


async def _reset(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(sa.text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade_async(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(mailing_lists).values(
                slug="kultur",
                name_da="Kultur",
                name_sv="Kultur",
                name_en="Culture",
                created_at=datetime.now(UTC),
            )
        )
    await engine.dispose()


async def _import(url: str, data: bytes, round_no: int) -> tuple[float, float, dict[str, int]]:
    engine = create_engine(url)
    request = ImportRequest(
        key=f"bench-{round_no}",
        list_slug="kultur",
        actor="system",
        mode="attested",
        attestation=Attestation("consent", "2026", "paper forms", "bench"),
    )
    started, cpu = time.perf_counter(), time.process_time()
    job = await run_import(create_sessionmaker(engine), request, io.BytesIO(data))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await engine.dispose()
    return elapsed, cpu, {"added": job.added, "invalid": job.invalid, "lines": job.lines_done}


async def _copy(url: str, data: bytes) -> float:
    engine = create_engine(url)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute(
            "CREATE TEMP TABLE copied (email text, name text, language text, municipality text)"
        )
        started = time.perf_counter()
        await driver.copy_to_table(
            "copied", source=io.BytesIO(data), format="csv", delimiter=";", header=True
        )
        elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


async def bench(url: str, rows: int, rounds: int) -> dict[str, Any]:
    """Run the rounds; the figures as written to the results file."""
    data = make_csv(rows)
    imports: list[float] = []
    cpus: list[float] = []
    copies: list[float] = []
    counts: dict[str, int] = {}
    for round_no in range(rounds):
        await _reset(url)
        copies.append(await _copy(url, data))
        elapsed, cpu, counts = await _import(url, data, round_no)
        imports.append(elapsed)
        cpus.append(cpu)
        print(
            f"round {round_no + 1}: import {elapsed:.1f} s ({cpu:.1f} s CPU in this process), "
            f"COPY {copies[-1]:.2f} s, load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    return {
        "rows": rows,
        "counts": counts,
        "import_seconds": {
            "min": min(imports),
            "median": statistics.median(imports),
            "max": max(imports),
        },
        # CPU time of this process (parsing, checks, SQLAlchemy): what other work on a shared
        # machine moves least; the database server's own time is not in it.
        "import_cpu_seconds": {
            "min": min(cpus),
            "median": statistics.median(cpus),
            "max": max(cpus),
        },
        "copy_seconds": {
            "min": min(copies),
            "median": statistics.median(copies),
            "max": max(copies),
        },
        "rows_per_second": rows / statistics.median(imports),
        "machine": platform.platform(),
        "load_average_at_end": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="created if missing")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    header = describe_run(
        "imports",
        {
            "rows": args.rows,
            "rounds": args.rounds,
            "mode": "attested",
            "database": make_url(args.database_url).render_as_string(hide_password=True),
        },
    )
    asyncio.run(fresh_postgres_database(args.database_url, keep=True))
    figures = asyncio.run(bench(args.database_url, args.rows, args.rounds))
    print(json.dumps(figures, indent=2))
    write_result(
        header,
        f"postgresql, {args.rows:,} rows, attested",
        figures,
        {
            "import s (median of rounds)": round(figures["import_seconds"]["median"], 2),
            "import s (max of rounds)": round(figures["import_seconds"]["max"], 2),
            "COPY s": round(figures["copy_seconds"]["median"], 3),
            "import CPU s": round(figures["import_cpu_seconds"]["median"], 2),
            "rows/s": round(figures["rows_per_second"]),
        },
    )


if __name__ == "__main__":
    main()
