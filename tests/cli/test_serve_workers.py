"""How many processes ``brevdue serve`` runs, and that they all serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from brevdue_cli.commands import usable_cpus, web_workers
from brevdue_cli.main import main
from brevdue_cli.redis_server import free_port
from shared.errors import SettingsError
from tests.cli.running import clean_env


def test_the_variable_chooses_else_one_process(tmp_path: Path) -> None:
    assert web_workers({"BREVDUE_WEB_WORKERS": "3"}) == 3
    assert web_workers({}) == 1
    assert web_workers({"BREVDUE_WEB_WORKERS": "auto"}) == usable_cpus()
    assert usable_cpus() == len(os.sched_getaffinity(0))
    for bad in ("0", "-2", "two"):
        with pytest.raises(SettingsError):
            web_workers({"BREVDUE_WEB_WORKERS": bad})
    # A container's CPU quota caps it: 1.5 CPUs is two processes, half a CPU one.
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")
    assert usable_cpus(quota) == min(2, len(os.sched_getaffinity(0)))
    quota.write_text("50000 100000\n")
    assert usable_cpus(quota) == 1
    quota.write_text("max 100000\n")
    assert usable_cpus(quota) == len(os.sched_getaffinity(0))


def test_a_bad_worker_count_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "subscriptions", "--workers", "0"])
    assert "must be at least 1" in capsys.readouterr().err


def test_serve_runs_the_processes_asked_for(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    env = clean_env(
        BREVDUE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'brevdue.db'}",
        BREVDUE_REDIS_URL=redis_url,
        BREVDUE_SECRET_KEYS="serve-workers-test-secret",
        BREVDUE_WEB_WORKERS="2",
    )
    command = [sys.executable, "-m", "brevdue_cli", "--var-dir", str(tmp_path), "serve"]
    process = subprocess.Popen(
        [*command, "subscriptions", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    try:
        deadline = time.monotonic() + 60
        answering: set[int] = set()
        while time.monotonic() < deadline:
            assert process.poll() is None, "brevdue serve exited"
            answering = set(_children(process.pid))
            try:
                live = httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            if live.status_code == 200 and len(answering) == 2:
                break
            time.sleep(0.2)
        assert len(answering) == 2, "two worker processes under the supervisor"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _children(pid: int) -> list[int]:
    """uvicorn's worker processes: children of the supervisor that run Python (not the
    multiprocessing resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if parent == pid and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found
