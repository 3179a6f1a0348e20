"""Process supervision and readiness waiting of ``brevdue run``, with real child processes."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

import pytest

from brevdue_cli.errors import StartupError
from brevdue_cli.processes import Supervisor, describe_exit
from brevdue_cli.readiness import Probe, wait_until_ready


def trapping(stamp: Path) -> list[str]:
    """A shell that records when it got SIGTERM, then exits."""
    return ["bash", "-c", f"trap 'date +%s%N > {stamp}; exit 0' TERM; sleep 60 & wait"]


def test_stop_all_stops_services_before_infrastructure(tmp_path: Path) -> None:
    supervisor = Supervisor(stop_timeout=10)
    infra = subprocess.Popen(trapping(tmp_path / "infra"))
    supervisor.adopt("redis", infra)
    supervisor.spawn("web", trapping(tmp_path / "web"), {}, tier=1)
    time.sleep(0.3)  # let the shells install their traps
    supervisor.stop_all()
    assert all(not child.alive() for child in supervisor.children)
    assert int((tmp_path / "web").read_text()) < int((tmp_path / "infra").read_text())


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout() -> None:
    supervisor = Supervisor(stop_timeout=0.5)
    child = supervisor.spawn("stubborn", ["bash", "-c", "trap '' TERM; sleep 60 & wait"], {})
    time.sleep(0.3)
    started = time.monotonic()
    supervisor.stop_all()
    assert time.monotonic() - started < 5
    assert describe_exit(child.process.returncode) == "was killed by SIGKILL"


def test_first_dead_names_the_child_that_exited() -> None:
    supervisor = Supervisor(stop_timeout=2)
    supervisor.spawn("sleeper", ["sleep", "60"], {})
    quitter = supervisor.spawn("quitter", ["bash", "-c", "exit 3"], {})
    quitter.process.wait()
    try:
        dead = supervisor.first_dead()
        assert dead is quitter
        assert describe_exit(dead.process.returncode) == "exited with code 3"
    finally:
        supervisor.stop_all()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_wait_until_ready_spins_until_every_probe_passes() -> None:
    calls = {"a": 0}

    def third_time() -> bool:
        calls["a"] += 1
        return calls["a"] >= 3

    out = Terminal()
    ready = wait_until_ready(
        [Probe("a", third_time), Probe("b", lambda: True)],
        Supervisor(),
        timeout=10,
        stopping=lambda: False,
        out=out,
    )
    assert ready is True
    assert "waiting for a" in out.getvalue()
    assert out.getvalue().endswith("\r\033[K")


def test_wait_until_ready_fails_on_a_dead_child_a_timeout_or_stops_on_request() -> None:
    supervisor = Supervisor(stop_timeout=2)
    child = supervisor.spawn("mailer worker", ["bash", "-c", "exit 1"], {})
    child.process.wait()
    never = [Probe("campaigns", lambda: False)]
    with pytest.raises(StartupError, match="mailer worker exited with code 1"):
        wait_until_ready(never, supervisor, timeout=10, stopping=lambda: False, out=io.StringIO())
    with pytest.raises(StartupError, match="not ready after 0 s: campaigns"):
        wait_until_ready(
            never, Supervisor(), timeout=0.3, stopping=lambda: False, out=io.StringIO()
        )
    assert not wait_until_ready(
        never, Supervisor(), timeout=10, stopping=lambda: True, out=io.StringIO()
    )
