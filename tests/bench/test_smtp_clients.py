"""The SMTP clients benchmark runs in its small size and writes a well-formed result file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


@pytest.mark.skipif(not os.path.exists(SINK), reason="Postfix's smtp-sink is not installed")
def test_the_benchmark_runs_and_writes_its_result(tmp_path: Path) -> None:
    environment = {**os.environ, "BREVDUE_BENCH_RESULTS": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-m", "bench.smtp_clients", "--messages", "200", "--rounds", "1"],
        check=True, env=environment, capture_output=True, timeout=120,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    [path] = tmp_path.glob("smtp_clients-*-200.json")
    result = json.loads(path.read_text())
    assert result["configuration"] == "smtp-sink, 4 connections"
    assert set(result["headline"]) == {
        "aiosmtplib_cpu_us_per_msg", "pipelining_cpu_us_per_msg", "ratio",
    }  # fmt: skip
    assert result["figures"]["sink_counted"] == 2 * 201
