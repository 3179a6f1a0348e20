"""The one-shot commands: migrate, seed, token, catcher, mailer, bounces, serve."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import math
import os
from collections.abc import Mapping
from pathlib import Path

from brevdue_cli.config import env_with_secret, load_settings
from brevdue_cli.errors import MissingServiceError
from brevdue_cli.worker_health import SUBSCRIPTIONS_QUEUES, worker_health
from shared.errors import SettingsError
from shared.settings import PREFIX

DEFAULT_PORTS = {"subscriptions": 8001, "campaigns": 8002}
WEB_WORKERS_VARIABLE = PREFIX + "WEB_WORKERS"


def migrate(var: Path) -> int:
    """Apply every pending schema migration."""
    from shared.migrate import upgrade

    settings = load_settings(var=var)
    upgrade(settings.database_url)
    print("brevdue: database schema is up to date")
    return 0


def seed(var: Path) -> int:
    """Create the demo lists, member site, admin user and residents that are missing."""
    from services.campaigns.admin import seed_demo
    from services.subscriptions.demo import seed_demo_audience

    settings = load_settings(var=var)
    result = asyncio.run(seed_demo(settings))
    residents = asyncio.run(seed_demo_audience(settings))
    if result.created_anything or residents:
        created = ", ".join(result.lists_created) or "no lists"
        print(f"brevdue: demo data created (lists: {created}; residents: {residents})")
    else:
        print("brevdue: demo data already present")
    return 0


def create_token(var: Path, role: str, label: str) -> int:
    """Create a staff API token and print it on the last line."""
    from services.campaigns.admin import create_token as issue

    token = asyncio.run(issue(load_settings(var=var), role, label=label))
    print(f"brevdue: {role} API token created; it is shown only now:")
    print(token, flush=True)
    return 0


def create_user(var: Path, email: str, role: str, name: str) -> int:
    """Create a staff user and print its one-time password on the last line."""
    from services.campaigns.admin import create_user as create

    account, password = asyncio.run(create(load_settings(var=var), email, role, name))
    print(f"brevdue: {role} {account.email} created; one-time password, to be changed at login:")
    print(password, flush=True)
    return 0


def reset_password(var: Path, email: str) -> int:
    """Give a staff user a new one-time password and print it on the last line."""
    from services.campaigns.admin import reset_password as reset

    password = asyncio.run(reset(load_settings(var=var), email))
    print(f"brevdue: new one-time password for {email.strip()}, to be changed at login:")
    print(password, flush=True)
    return 0


def catcher(host: str, smtp_port: int, http_port: int, store: Path | None) -> int:
    """Run the SMTP catcher and its inbox page until interrupted."""
    from brevdue_cli.catcher import serve

    print(
        f"brevdue: catching mail on smtp://{host}:{smtp_port}, inbox at http://{host}:{http_port}",
        flush=True,
    )
    # uvicorn re-raises the Ctrl-C it handled; for the catcher that is the normal way to stop.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, smtp_port, http_port, store))
    return 0


def _check(redis_url: str, queues: list[str]) -> int:
    healthy, lines = worker_health(redis_url, queues)
    for line in lines:
        print(line)
    return 0 if healthy else 1


def mailer(var: Path, *, burst: bool, check: bool, queues: list[str]) -> int:
    """Run the mailer worker, or (``check``) tell whether one is alive: exit 0 or 1."""
    settings = load_settings(var=var)
    if check:
        return _check(settings.redis_url, queues)
    # The worker's own entry point handles SIGTERM/SIGINT with a grace period for running jobs.
    from services.mailer.worker import main as run_mailer

    _export_dev_secret(var)
    run_mailer(["--burst"] if burst else [])
    return 0


def subscriptions_worker(var: Path, *, burst: bool, check: bool) -> int:
    """Run the subscriptions worker, or (``check``) tell whether one is alive: exit 0 or 1."""
    settings = load_settings(var=var)
    if check:
        return _check(settings.redis_url, list(SUBSCRIPTIONS_QUEUES))
    from services.subscriptions.worker import main as run_worker

    _export_dev_secret(var)
    run_worker(["--burst"] if burst else [])
    return 0


def bounces(var: Path) -> int:
    """Run the bounces process: the SMTP bounce listener and the providers' webhooks."""
    from services.mailer.bounces_service import load_options
    from services.mailer.bounces_service import main as run_bounces

    load_settings(var=var)  # report a bad environment in one line first
    load_options()

    _export_dev_secret(var)
    run_bounces([])
    return 0


def serve(var: Path, service: str, host: str, port: int | None, workers: int | None = None) -> int:
    """Serve one HTTP service with uvicorn, in ``workers`` processes (see ``web_workers``)."""
    load_settings(var=var)  # report a bad environment in one line before uvicorn starts
    _export_dev_secret(var)
    module = f"services.{service}.app"
    if importlib.util.find_spec(module) is None:
        raise MissingServiceError(module)
    count = workers if workers is not None else web_workers(os.environ)
    serve_factory(f"{module}:create_app_from_env", host, port or DEFAULT_PORTS[service], count)
    return 0


def web_workers(environ: Mapping[str, str]) -> int:
    """How many processes ``brevdue serve`` runs: ``BREVDUE_WEB_WORKERS`` (a number, or
    ``auto`` for one per CPU this process may use), else 1.

    One Python process computes on one core at a time, and the public endpoints are bound by
    computing, not by waiting (the sign-up's answer-time floor is a sleep that holds neither a
    process nor a database connection). But a second process only helps when the service has
    cores of its own: on a host where PostgreSQL and Redis share the cores (compose, a small
    VM), two processes on two cores made each request cost 40-60% more CPU for no more requests
    per second (bench/http, 2026-11-30). So 1 by default, and on Kubernetes 1 per pod with more
    pods; ``auto`` on a host or pod whose cores are the web service's.
    """
    raw = environ.get(WEB_WORKERS_VARIABLE, "").strip().lower()
    if not raw:
        return 1
    if raw == "auto":
        return usable_cpus()
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1:
        raise SettingsError("WEB_WORKERS", "must be a whole number of at least 1, or auto")
    return count


def usable_cpus(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup v2 CPU quota."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = count or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    return count


def serve_factory(factory: str, host: str, port: int, workers: int = 1) -> None:
    """Run uvicorn on an app factory (``module:function``) the way every service is served.

    With more than one worker uvicorn starts that many processes on one listening socket and
    restarts any that dies; each process opens its own database pool and Redis connections.
    """
    import uvicorn

    uvicorn.run(
        factory,
        factory=True,
        # The services decide which proxies to trust (BREVDUE_TRUSTED_PROXIES); uvicorn must not
        # rewrite the client address from X-Forwarded-For before they see it.
        proxy_headers=False,
        host=host,
        port=port,
        workers=workers,
    )


def _export_dev_secret(var: Path) -> None:
    # Entry points that read the process environment themselves get the dev secret fallback too.
    os.environ.update(env_with_secret(os.environ, var))
