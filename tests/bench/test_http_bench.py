"""The HTTP benchmark's small mode runs end to end and writes well-formed result files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bench.http import run

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


def test_small_run_writes_a_result_file_per_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    configured = os.environ.get("BREVDUE_TEST_DATABASE_URL")
    if not configured:
        pytest.skip("the benchmark runs on PostgreSQL: set BREVDUE_TEST_DATABASE_URL")
    # A database of its own next to the test database: the benchmark drops and creates it.
    url = make_url(configured)
    database = url.set(database=f"{url.database}_bench_http").render_as_string(hide_password=False)
    monkeypatch.setenv("BREVDUE_BENCH_RESULTS", str(tmp_path))
    run.main(
        [
            "--database-url",
            database,
            "--redis-url",
            redis_url,
            "--duration",
            "1",
            "--connections",
            "4",
            "--warmup",
            "0",
            "--workers",
            "1",
            "--min-duration",
            "0",
        ]
    )
    files = sorted(tmp_path.glob("http-*.json"))
    assert [path.name.split("+0000-")[1] for path in files] == [
        "subscribe-form-4.json",
        "subscribe-json-4.json",
        "unsubscribe-4.json",
    ]
    for path in files:
        document = json.loads(path.read_text())
        assert document["benchmark"] == "http"
        assert document["configuration"].endswith(", 4 connections")
        headline = document["headline"]
        assert set(headline) >= {"req/s", "bare req/s", "% of bare", "p99 ms", "CPU ms/request"}
        assert all(isinstance(value, int | float) for value in headline.values()), headline
        assert document["figures"]["endpoint"]["verified"] is True
