"""Run the ``brevdue`` command as a real subprocess and watch what it prints."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SERVICE_MODULES = (
    "services.subscriptions.app",
    "services.campaigns.app",
    "services.campaigns.admin",
    "services.mailer.worker",
)


def require_services() -> None:
    """Fail at once, naming the module, instead of waiting for a suite that cannot start."""
    missing = [m for m in SERVICE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail("needs the services; missing: " + ", ".join(missing), pytrace=False)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any BREVDUE_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREVDUE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def brevdue(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run one brevdue command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "brevdue_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def children_of(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class BrevdueRun:
    """``brevdue run`` in the background; collects stdout lines, stderr goes to a file."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.stderr_path = cwd / f"stderr-{time.monotonic_ns()}.txt"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "brevdue_cli", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.seen_children: set[int] = set()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        """Everything printed so far."""
        with self._changed:
            return "\n".join(self.lines)

    @property
    def stderr(self) -> str:
        """What went to stderr so far."""
        self._stderr.flush()
        return self.stderr_path.read_text()

    def wait_for(self, text: str, timeout: float = 75) -> None:
        """Block until ``text`` appears on stdout; fail with the output if it does not."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.process.poll() is not None and not self._reader.is_alive()
                ):
                    pytest.fail(
                        f"{text!r} not printed (exit {self.process.poll()}).\n"
                        f"stdout:\n{chr(10).join(self.lines)}\nstderr:\n{self.stderr[-4000:]}",
                        pytrace=False,
                    )
                self._changed.wait(min(remaining, 0.5))
        self.seen_children |= children_of(self.process.pid)

    def signal(self, signum: int = signal.SIGINT) -> None:
        """Send ``signum`` to the brevdue process only."""
        self.seen_children |= children_of(self.process.pid)
        self.process.send_signal(signum)

    def wait(self, timeout: float = 45) -> int:
        """The exit status, waiting at most ``timeout`` seconds."""
        status = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return status

    def kill_everything(self) -> None:
        """Clean-up after a failed test: no process of ours may outlive it."""
        for pid in self.seen_children | children_of(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._stderr.close()
