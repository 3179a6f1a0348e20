"""Child processes started by ``brevdue run``: spawn, watch, and stop them in order."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Child:
    """One process this program started and must stop."""

    name: str
    process: subprocess.Popen[bytes]
    # Higher tiers stop first: the services before the Redis and SMTP server they still use.
    tier: int = 1

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None


@dataclass
class Supervisor:
    """Starts children, notices when one dies, and stops them all, tier by tier."""

    # Longer than the mailer's grace period for jobs in flight (20 s by default).
    stop_timeout: float = 25.0
    children: list[Child] = field(default_factory=list)

    def spawn(
        self, name: str, args: Sequence[str], env: Mapping[str, str], *, tier: int = 1
    ) -> Child:
        """Start ``args`` as a child named ``name``.

        Each child gets its own process group, so a Ctrl-C in the terminal reaches only this
        program, which then shuts the children down in order instead of all at once.
        """
        process = subprocess.Popen(list(args), env=dict(env), process_group=0)
        return self.adopt(name, process, tier=tier)

    def adopt(self, name: str, process: subprocess.Popen[bytes], *, tier: int = 0) -> Child:
        """Watch and eventually stop a process started elsewhere."""
        child = Child(name, process, tier)
        self.children.append(child)
        return child

    def first_dead(self) -> Child | None:
        """A child that has exited, if any."""
        return next((child for child in self.children if not child.alive()), None)

    def stop_all(self) -> None:
        """Stop every child, highest tier first; see ``stop_tier``."""
        for tier in sorted({child.tier for child in self.children}, reverse=True):
            self.stop_tier(tier)

    def stop_tier(self, tier: int) -> None:
        """Terminate a tier's children, wait up to ``stop_timeout``, then kill what is left."""
        running = [c for c in reversed(self.children) if c.tier == tier and c.alive()]
        for child in running:
            _signal(child.process.terminate)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(child.process.kill)
                child.process.wait()


def _signal(send: Callable[[], None]) -> None:
    # The process may have exited between the check and the signal.
    with contextlib.suppress(ProcessLookupError):
        send()


def describe_exit(returncode: int) -> str:
    """'exited with code N' or 'was killed by SIGX'."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"
