"""``brevdue run``: the whole suite on one machine, with local Redis, SQLite and a mail catcher."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from brevdue_cli.config import dev_environment, token_marker
from brevdue_cli.errors import MissingServiceError, StartupError
from brevdue_cli.processes import Supervisor, describe_exit
from brevdue_cli.readiness import Probe, http_ok, wait_until_ready
from brevdue_cli.redis_server import free_port, start_local_redis
from brevdue_cli.worker_health import MAILER_QUEUES, SUBSCRIPTIONS_QUEUES, worker_health
from shared.errors import SettingsError
from shared.settings import PREFIX, Settings

SERVICE_MODULES = (
    "services.subscriptions.app",
    "services.subscriptions.worker",
    "services.campaigns.app",
    "services.mailer.worker",
)


@dataclass(frozen=True)
class RunOptions:
    """Where ``brevdue run`` keeps its state and which ports it listens on."""

    var: Path
    subscriptions_port: int = 8001
    campaigns_port: int = 8002
    smtp_port: int = 1025
    inbox_port: int = 8025
    redis_port: int = 6380
    ready_timeout: float = 60.0


class StopRequest:
    """Set by SIGINT/SIGTERM; checked between start-up steps and while supervising."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.requested = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Catch SIGINT and SIGTERM while the block runs."""
        previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run(options: RunOptions, environ: dict[str, str] | None = None) -> int:
    """Start everything, print the URLs, supervise until a signal; the exit status."""
    stop = StopRequest()
    supervisor = Supervisor()
    base_env = dict(os.environ if environ is None else environ)
    with stop.installed(), _lock(options.var), contextlib.ExitStack() as cleanup:
        cleanup.callback(supervisor.stop_all)
        if not _start(options, base_env, supervisor, stop):
            return 0
        return _supervise(supervisor, stop)


def _start(
    options: RunOptions, base_env: dict[str, str], supervisor: Supervisor, stop: StopRequest
) -> bool:
    """Bring the suite up; False when a signal asked to stop on the way."""
    env = _prepare_environment(options, base_env)
    catch_mail = not env.get(PREFIX + "SMTP_URL", "").strip()
    _check_ports(options, catch_mail)
    env[PREFIX + "REDIS_URL"] = _redis(env, options, supervisor)
    if catch_mail:
        env[PREFIX + "SMTP_URL"] = f"smtp://127.0.0.1:{options.smtp_port}?starttls=off"
    settings = Settings.from_env(env)

    _migrate_and_seed(settings)
    token = _first_run_token(settings, options.var)
    admin_password = _demo_admin_password(settings)
    if stop.requested:
        return False
    probes = _spawn_children(options, settings, env, supervisor, catch_mail)
    if not wait_until_ready(
        probes, supervisor, timeout=options.ready_timeout, stopping=lambda: stop.requested
    ):
        return False
    _print_urls(settings, options, catch_mail, token, admin_password)
    if token is not None:
        token_marker(options.var).write_text(
            f"first admin token printed at {datetime.now(UTC).isoformat()}\n", encoding="utf-8"
        )
    return True


def _prepare_environment(options: RunOptions, base_env: dict[str, str]) -> dict[str, str]:
    for module in SERVICE_MODULES:
        if importlib.util.find_spec(module) is None:
            raise MissingServiceError(module)
    env = dev_environment(
        base_env,
        options.var,
        subscriptions_port=options.subscriptions_port,
        campaigns_port=options.campaigns_port,
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    Settings.from_env(env)  # every mistake in the environment surfaces before anything starts
    return env


def _check_ports(options: RunOptions, catch_mail: bool) -> None:
    ports = {"subscriptions": options.subscriptions_port, "campaigns": options.campaigns_port}
    if catch_mail:
        ports |= {"the mail catcher (SMTP)": options.smtp_port, "the inbox": options.inbox_port}
    for name, port in ports.items():
        if not _port_free(port):
            raise StartupError(f"port {port} for {name} is already in use")


def _spawn_children(
    options: RunOptions,
    settings: Settings,
    env: dict[str, str],
    supervisor: Supervisor,
    catch_mail: bool,
) -> list[Probe]:
    python = sys.executable
    probes: list[Probe] = []
    if catch_mail:
        store = str(options.var / "catcher")
        smtp, http = str(options.smtp_port), str(options.inbox_port)
        args = [python, "-m", "brevdue_cli", "catcher", "--smtp-port", smtp, "--http-port", http]
        supervisor.spawn("mail catcher", [*args, "--store", store], env, tier=0)
        inbox = f"http://127.0.0.1:{options.inbox_port}/api/messages"
        probes.append(Probe("mail catcher", http_ok(inbox)))
    services = {"subscriptions": options.subscriptions_port, "campaigns": options.campaigns_port}
    for name, port in services.items():
        factory = f"services.{name}.app:create_app_from_env"
        args = [python, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1"]
        args.append("--no-proxy-headers")  # the services apply BREVDUE_TRUSTED_PROXIES
        supervisor.spawn(
            name, [*args, "--port", str(port), "--log-level", settings.log_level.lower()], env
        )
        probes.append(Probe(name, http_ok(f"http://127.0.0.1:{port}/health/ready")))
    supervisor.spawn("mailer worker", [python, "-m", "brevdue_cli", "mailer"], env)
    # Scheduled upkeep (the purge of unconfirmed sign-ups); supervised, no readiness probe.
    worker = [python, "-m", "brevdue_cli", "subscriptions-worker"]
    supervisor.spawn("subscriptions worker", worker, env)
    redis_url = settings.redis_url
    probes.append(Probe("mailer worker", lambda: worker_health(redis_url, MAILER_QUEUES)[0]))
    probes.append(
        Probe("subscriptions worker", lambda: worker_health(redis_url, SUBSCRIPTIONS_QUEUES)[0])
    )
    return probes


def _supervise(supervisor: Supervisor, stop: StopRequest) -> int:
    while not stop.requested:
        dead = supervisor.first_dead()
        if dead is not None:
            reason = describe_exit(dead.process.returncode)
            print(f"brevdue: {dead.name} {reason}; stopping everything", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print("brevdue: stopping", file=sys.stderr, flush=True)
    return 0


@contextlib.contextmanager
def _lock(var: Path) -> Iterator[None]:
    # Two runs on one var/ would share (and corrupt) the Redis files and fight over ports.
    var.mkdir(parents=True, exist_ok=True)
    with (var / "run.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise StartupError(f"another brevdue run is using {var}") from exc
        yield


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the servers themselves do, so that connections of an earlier run still in
        # TIME_WAIT do not count as "in use"; a listening socket still does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _redis(env: dict[str, str], options: RunOptions, supervisor: Supervisor) -> str:
    configured = env.get(PREFIX + "REDIS_URL", "").strip()
    if configured:
        if not _answers(configured):
            raise SettingsError("REDIS_URL", "does not answer (is that Redis running?)")
        return configured
    # Our own server keeps development data apart from any Redis already on this machine.
    port = options.redis_port if _port_free(options.redis_port) else free_port()
    try:
        server = start_local_redis(options.var / "redis", port, own_process_group=True)
    except RuntimeError as exc:
        raise StartupError(str(exc)) from exc
    supervisor.adopt("redis", server.process)
    return server.url


def _answers(url: str) -> bool:
    client: Redis = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        return False
    finally:
        client.close()


def _migrate_and_seed(settings: Settings) -> None:
    from services.campaigns.admin import seed_demo
    from services.subscriptions.demo import seed_demo_audience
    from shared.migrate import upgrade

    upgrade(settings.database_url)
    asyncio.run(seed_demo(settings))
    asyncio.run(seed_demo_audience(settings))


def _first_run_token(settings: Settings, var: Path) -> str | None:
    # Only the marker is kept: the token itself exists nowhere but in the one printout.
    if token_marker(var).exists():
        return None
    from services.campaigns.admin import create_token

    return asyncio.run(create_token(settings, "admin", label="first brevdue run"))


def _demo_admin_password(settings: Settings) -> str | None:
    # A one-time password while the demo admin has not chosen its own, replaced on each start
    # because only its hash is kept.
    from services.campaigns.admin import demo_admin_login

    return asyncio.run(demo_admin_login(settings))


def _print_urls(
    settings: Settings,
    options: RunOptions,
    catch_mail: bool,
    token: str | None,
    admin_password: str | None = None,
) -> None:
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    rows = [
        ("Subscriptions", settings.subscriptions_public_url),
        ("Staff app", settings.campaigns_public_url + "/app/"),
        ("Campaigns API", settings.campaigns_public_url + "/api"),
        ("API docs", settings.campaigns_public_url + "/schema"),
    ]
    if catch_mail:
        rows.append(("Mail inbox", f"http://127.0.0.1:{options.inbox_port}"))
        rows.append(("SMTP catcher", f"smtp://127.0.0.1:{options.smtp_port}"))
    rows += [("Redis", _hide_password(settings.redis_url)), ("Database", database)]
    out: IO[str] = sys.stdout
    print("\nBrevdue is running:\n", file=out)
    for label, value in rows:
        print(f"  {label + ':':<15} {value}", file=out)
    if token is not None:
        print("\n  Admin API token (shown only this once, keep it somewhere safe):", file=out)
        print(f"  {token}", file=out)
    if admin_password is not None:
        from services.campaigns.admin import DEMO_ADMIN_EMAIL

        print("\n  Staff app login (one-time password, to be changed at first login):", file=out)
        print(f"  {DEMO_ADMIN_EMAIL} / {admin_password}", file=out)
    print("\nPress Ctrl-C to stop.\n", file=out, flush=True)


def _hide_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if "@" in url else url
