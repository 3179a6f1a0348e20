"""Waiting until started services answer, with a spinner on a terminal."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from brevdue_cli.errors import StartupError
from brevdue_cli.processes import Supervisor, describe_exit

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass
class Probe:
    """Something to wait for: a name and a check that returns True once it is ready."""

    name: str
    ready: Callable[[], bool]


def http_ok(url: str) -> Callable[[], bool]:
    """A check that passes when ``url`` answers 200."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
                return int(response.status) == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    return check


def wait_until_ready(
    probes: list[Probe],
    supervisor: Supervisor,
    *,
    timeout: float,
    stopping: Callable[[], bool],
    out: TextIO = sys.stderr,
) -> bool:
    """Poll every probe until all pass; False when asked to stop meanwhile.

    Raises StartupError when a child dies or ``timeout`` passes first.
    """
    pending = list(probes)
    interactive = out.isatty()
    if not interactive:
        print("brevdue: waiting for " + ", ".join(p.name for p in pending), file=out, flush=True)
    deadline = time.monotonic() + timeout
    frame = 0
    while pending:
        if stopping():
            return False
        dead = supervisor.first_dead()
        if dead is not None:
            raise StartupError(f"{dead.name} {describe_exit(dead.process.returncode)}")
        if time.monotonic() > deadline:
            names = ", ".join(p.name for p in pending)
            raise StartupError(f"not ready after {timeout:.0f} s: {names}")
        pending = [p for p in pending if not p.ready()]
        if interactive:
            waiting = ", ".join(p.name for p in pending)
            out.write(f"\r\033[K{SPINNER[frame % len(SPINNER)]} waiting for {waiting}")
            out.flush()
            frame += 1
        time.sleep(0.2)
    if interactive:
        out.write("\r\033[K")
        out.flush()
    return True
