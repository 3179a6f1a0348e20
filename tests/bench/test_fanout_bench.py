"""The fan-out benchmark in its small size: it runs and writes a well-formed result file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, WORKER

pytestmark = [
    pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL: set BREVDUE_TEST_DATABASE_URL"),
    pytest.mark.skipif(
        not (shutil.which("smtp-sink") or Path("/usr/sbin/smtp-sink").exists()),
        reason="Postfix's smtp-sink is not installed",
    ),
]
ROOT = Path(__file__).resolve().parents[2]


def test_small_fan_out_writes_its_result(tmp_path: Path, redis_url: str) -> None:
    # A database of its own beside the test database: the benchmark drops and creates it.
    url = make_url(POSTGRES_URL or "")
    database = url.set(database=f"{url.database}_fanout_bench_{WORKER}")
    command = [
        sys.executable, "-m", "bench.fanout", "--recipients", "500", "--processes", "1",
        "--database-url", database.render_as_string(hide_password=False),
        "--redis-url", redis_url,
    ]  # fmt: skip
    env = {**os.environ, "BREVDUE_BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [path] = tmp_path.glob("fanout-*.json")
    result = json.loads(path.read_text())
    assert result["benchmark"] == "fanout"
    assert result["configuration"] == "postgresql, 500 recipients, list, 1 processes"
    assert set(result["headline"]) == {
        "fan-out s", "reference s", "× reference", "peak RSS MB", "Redis MB",
    }  # fmt: skip
    figures = result["figures"]
    # Every recipient has a ledger row, and every row is named by a queued batch job.
    assert figures["ledger_rows"] == figures["reference_rows"] == 500
    assert figures["batch_jobs"] >= 1 and figures["rows_without_job"] == 0
    assert len(figures["mailer_peak_rss_mb"]) == 1
