"""The delivery benchmark runs in its small mode and writes a well-formed result file.

No timings are asserted: the figures depend on the machine. What is checked is that the three
senders ran, every recipient was sent to, and the file carries the figures the report reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bench.delivery import PRODUCT_CLIENT

ROOT = Path(__file__).resolve().parents[2]
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
HEADLINE = {
    "msg/s",
    "naive msg/s",
    "ceiling msg/s",
    "% of ceiling",
    "× naive",
    "µs CPU/msg",
    "peak RSS MB",
}

pytestmark = pytest.mark.skipif(
    not Path(SMTP_SINK).exists(),
    reason="Postfix's smtp-sink is not installed (apt-get install postfix)",
)


def _bench_database(kind: str) -> str:
    """SQLite (a temporary file the benchmark makes), or a PostgreSQL database of its own
    beside the test database: the benchmark drops and creates it."""
    if kind == "sqlite":
        return "sqlite"
    configured = os.environ.get("BREVDUE_TEST_DATABASE_URL")
    if not configured:
        pytest.skip("PostgreSQL: set BREVDUE_TEST_DATABASE_URL to run")
    url = make_url(configured)
    return url.set(database=f"{url.database}_bench_delivery").render_as_string(hide_password=False)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_small_run_writes_a_result_file(kind: str, redis_url: str, tmp_path: Path) -> None:
    database = _bench_database(kind)
    env = {**os.environ, "BREVDUE_BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.delivery",
            "--recipients",
            "200",
            "--naive-recipients",
            "50",
            "--processes",
            "1",
            "--database-url",
            database,
            "--redis-url",
            redis_url,
        ],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    [path] = tmp_path.glob("delivery-*.json")
    result = json.loads(path.read_text())
    assert result["benchmark"] == "delivery"
    assert result["configuration"] == f"{kind}, {PRODUCT_CLIENT}, 1 process"
    assert set(result["headline"]) == HEADLINE
    assert all(isinstance(value, int | float) for value in result["headline"].values())
    figures = result["figures"]
    assert figures["brevdue"]["ledger"] == {"sent": 200}
    assert figures["naive"]["recipients"] == 50
    assert [run["per_process"][0]["sent"] for run in figures["ceiling"]["runs"]] == [200, 200]
    assert {"mailer", "smtp-sink", "redis"} <= set(figures["brevdue"]["cpu_s"])
    if kind == "postgresql":
        assert "postgresql (whole server)" in figures["brevdue"]["utilisation"]
