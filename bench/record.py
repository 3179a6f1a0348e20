"""What every benchmark records beside its figures: the machine, the commit, the settings.

Each benchmark prints :func:`describe_run` before it starts, creates what it needs with
:func:`fresh_postgres_database`, and ends with :func:`write_result`, which writes one JSON file
per run to ``bench/results/`` (or to ``$BREVDUE_BENCH_RESULTS``, which the test suite's small
runs point at a temporary folder). ``python -m bench.report`` turns every file there into the
tables of ``docs/benchmarks.md``.

A result file::

    {"benchmark": "delivery", "configuration": "postgresql, aiosmtplib, 2 processes",
     "started_at": "...", "finished_at": "...", "commit": "abc123 (+ changes)",
     "machine": {...}, "settings": {...}, "figures": {...}}

``configuration`` names what the run compares with other runs of the same benchmark: the report
groups runs by it and gives median, min and max of each figure in ``headline``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

DEFAULT_RESULTS = Path(__file__).parent / "results"


def results_dir() -> Path:
    """Where result files go: ``$BREVDUE_BENCH_RESULTS`` if set, else ``bench/results``."""
    chosen = os.environ.get("BREVDUE_BENCH_RESULTS")
    return Path(chosen) if chosen else DEFAULT_RESULTS


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def describe_machine() -> dict[str, Any]:
    """Cores, CPU model, memory, OS, Python and the load average at this moment."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in load_average()],
    }


def describe_commit() -> str:
    """The checkout's commit, with ``(+ changes)`` when the work tree differs from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} (+ changes)" if dirty else head


def describe_run(benchmark: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Print and return the machine, commit and settings a run starts with."""
    machine = describe_machine()
    header: dict[str, Any] = {
        "benchmark": benchmark,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": describe_commit(),
        "machine": machine,
        "settings": settings,
    }
    print(
        f"{benchmark}: commit {header['commit']}, {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['memory_gib']} GiB, Python {machine['python']}, "
        f"load {' '.join(str(x) for x in machine['load_average'])}"
    )
    print("settings: " + ", ".join(f"{key}={value}" for key, value in settings.items()))
    return header


def write_result(
    header: dict[str, Any],
    configuration: str,
    figures: dict[str, Any],
    headline: dict[str, float | int | None],
    *,
    name_suffix: str = "",
) -> Path:
    """Write one run's result file and return its path.

    ``headline`` holds the few figures the report tabulates (e.g. ``{"msg/s": 1234.5}``);
    ``figures`` holds everything else the run measured.
    """
    finished = datetime.now(UTC)
    document = {
        **header,
        "configuration": configuration,
        "finished_at": finished.isoformat(timespec="seconds"),
        "load_average_end": [round(x, 2) for x in load_average()],
        "headline": headline,
        "figures": figures,
    }
    directory = results_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stamp = finished.strftime("%Y-%m-%dT%H%M%S%z")
    suffix = f"-{name_suffix}" if name_suffix else ""
    path = directory / f"{header['benchmark']}-{stamp}{suffix}.json"
    number = 1
    while path.exists():  # two runs in the same second keep both files
        number += 1
        path = directory / f"{header['benchmark']}-{stamp}{suffix}-{number}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"written: {path}")
    return path


async def fresh_postgres_database(url: str, *, keep: bool = False) -> None:
    """Create the database ``url`` names (dropped first unless ``keep`` and it exists).

    Connects to the server's ``postgres`` database to do it, so the named database need not
    exist; a SQLite URL is left alone (its file is created on first use).
    """
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return
    name = parsed.database
    if not name:
        raise ValueError(f"no database name in {parsed.render_as_string(hide_password=True)}")
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = (
                await conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
            ).first() is not None
            if exists and keep:
                return
            if exists:
                await conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
