"""The public endpoints under load, beside a bare Litestar endpoint served the same way.

Creates its PostgreSQL database, migrates it and seeds one double opt-in list and, for the
one-click unsubscribe, subscribers confirmed on it with unsubscribe links signed the way the
mailer signs them. Then it serves the subscriptions service as production does (``brevdue
serve subscriptions``, per-client sign-up limit raised for the run) and a bare Litestar POST
endpoint with the same uvicorn settings, and runs ``wrk`` against each endpoint (sign-up as a
form, sign-up as JSON, one-click unsubscribe, and the bare endpoint as the reference) at each
connection count. Every request is different: a new address per sign-up, a new token per
unsubscribe (bench/http/requests.lua).

Per run: req/s, p50/p99 latency, non-2xx answers and socket errors (from wrk), the CPU time the
server's processes spent per request (from /proc), and what the database holds afterwards
(subscribers, pending subscriptions and outbox rows written; subscriptions left), compared
with wrk's request count. One result file per endpoint and connection count.

Nothing is sent: the confirmation mails wait in the Redis queue and the outbox, and both are
emptied after each run is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from bench.processes import cpu_seconds as process_cpu_seconds
from bench.record import describe_run, fresh_postgres_database, write_result
from brevdue_cli.commands import web_workers
from shared.db import create_engine
from shared.links import sign_unsubscribe
from shared.migrate import upgrade_async
from shared.schema import mailing_lists
from shared.settings import Secret
from shared.tokens import TokenSigner

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCRIPT = HERE / "requests.lua"
DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_http"
SECRET = "bench-http-secret-key-not-for-production"
LIST_SLUG = "nyheder"
CAMPAIGN_ID = 1
ENDPOINTS = ("subscribe-form", "subscribe-json", "unsubscribe")
# Subscribers seeded per unsubscribe run: the duration times this rate. A faster run starts
# over at its first token (the repeats change nothing and are reported).
TOKEN_RATE = 2500


# --- the database ----------------------------------------------------------------------------


async def prepare_database(url: str) -> int:
    """Create, migrate and seed the list; return its id."""
    await fresh_postgres_database(url)
    await upgrade_async(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        list_id = (
            await conn.execute(
                sa.insert(mailing_lists)
                .values(
                    slug=LIST_SLUG,
                    name_da="Nyheder",
                    name_sv="Nyheter",
                    name_en="News",
                    double_optin=True,
                    created_at=datetime.now(UTC),
                )
                .returning(mailing_lists.c.id)
            )
        ).scalar_one()
    await engine.dispose()
    return int(list_id)


async def seed_subscribers(url: str, list_id: int, tag: str, count: int) -> list[str]:
    """``count`` subscribers confirmed on the list; return their keys in order."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                """
                INSERT INTO subscribers (key, email, email_key, language, status, created_at,
                                         updated_at, confirmed_lists)
                SELECT md5(:tag || n), :tag || '-' || n || '@example.org',
                       :tag || '-' || n || '@example.org', 'da', 'active', now(), now(), 1
                FROM generate_series(1, :count) AS n
                """
            ),
            {"tag": tag, "count": count},
        )
        await conn.execute(
            sa.text(
                """
                INSERT INTO subscriptions (subscriber_id, list_id, status, requested_at,
                                           confirmed_at)
                SELECT id, :list_id, 'confirmed', now(), now() FROM subscribers
                WHERE email LIKE :pattern
                """
            ),
            {"list_id": list_id, "pattern": f"{tag}-%"},
        )
        await conn.execute(sa.text("ANALYZE subscribers"))
        await conn.execute(sa.text("ANALYZE subscriptions"))
    await engine.dispose()
    return [_md5(f"{tag}{n}") for n in range(1, count + 1)]


def _md5(text: str) -> str:
    # PostgreSQL's md5() made the keys in seed_subscribers.
    return hashlib.md5(text.encode()).hexdigest()


async def count_signups(url: str, prefix: str) -> dict[str, int]:
    """Subscribers, pending subscriptions and outbox rows written for addresses ``prefix-…``."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    """
                    SELECT count(DISTINCT s.id), count(DISTINCT (sub.subscriber_id)),
                           (SELECT count(*) FROM mail_outbox o JOIN subscribers x
                              ON x.id = o.subscriber_id WHERE x.email LIKE :pattern)
                    FROM subscribers s
                    LEFT JOIN subscriptions sub
                      ON sub.subscriber_id = s.id AND sub.status = 'pending'
                    WHERE s.email LIKE :pattern
                    """
                ),
                {"pattern": f"{prefix}-%"},
            )
        ).one()
    await engine.dispose()
    return {"subscribers": row[0], "pending": row[1], "outbox": row[2]}


async def count_unsubscribed(url: str, tag: str) -> int:
    """Subscriptions of the run's subscribers that are now unsubscribed."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        value = (
            await conn.execute(
                sa.text(
                    """
                    SELECT count(*) FROM subscriptions sub JOIN subscribers s
                      ON s.id = sub.subscriber_id
                    WHERE s.email LIKE :pattern AND sub.status = 'unsubscribed'
                    """
                ),
                {"pattern": f"{tag}-%"},
            )
        ).scalar_one()
    await engine.dispose()
    return int(value)


async def empty_outbox(url: str) -> None:
    """Drop the kept confirmation mails of a counted run (nothing will send them)."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.text("TRUNCATE mail_outbox"))
    await engine.dispose()


# --- the servers -----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process this benchmark started."""

    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"


def service_environment(args: argparse.Namespace) -> dict[str, str]:
    """The subscriptions service's settings for the run: limits raised for one client."""
    env = dict(os.environ)
    env.update(
        {
            "BREVDUE_DATABASE_URL": args.database_url,
            "BREVDUE_REDIS_URL": args.redis_url,
            "BREVDUE_SECRET_KEYS": SECRET,
            # wrk is one client sending distinct addresses: only the per-client limit is hit.
            "BREVDUE_SIGNUP_LIMIT_PER_IP": "1000000000",
            "BREVDUE_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT),
        }
    )
    if args.min_duration is not None:
        env["BREVDUE_SIGNUP_MIN_DURATION"] = str(args.min_duration)
    if args.workers is not None:
        env["BREVDUE_WEB_WORKERS"] = str(args.workers)
    return env


def start_servers(args: argparse.Namespace, var: Path, log: Path) -> tuple[Server, Server]:
    """The subscriptions service (``brevdue serve``) and the bare reference app, both with
    ``brevdue serve``'s uvicorn settings."""
    env = service_environment(args)
    python = sys.executable
    port = free_port()
    service = subprocess.Popen(
        [python, "-m", "brevdue_cli", "--var-dir", str(var), "serve", "subscriptions",
         "--port", str(port)],
        env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT, process_group=0,
    )  # fmt: skip
    servers = [Server("subscriptions", service, port)]
    bare_port = free_port()
    bare = subprocess.Popen(
        [python, "-m", "bench.http.serve_bare", "--port", str(bare_port)],
        env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT, process_group=0,
    )  # fmt: skip
    servers.append(Server("bare", bare, bare_port))
    for server in servers:
        wait_until_up(server, "/health/live" if server.name == "subscriptions" else "/")
    return servers[0], servers[1]


def wait_until_up(server: Server, path: str, timeout: float = 60.0) -> None:
    """Wait for any HTTP answer; fail when the process exits or does not answer in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode}")
        try:
            urllib.request.urlopen(server.url + path, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{server.name} did not answer within {timeout:.0f} s")


def stop(server: Server) -> None:
    """SIGTERM the server's process group; SIGKILL what is left after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (uvicorn's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            parent = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants so far."""
    return sum(process_cpu_seconds(member) or 0.0 for member in process_tree(pid))


# --- wrk ---------------------------------------------------------------------------------------


_BENCH_LINE = re.compile(r"^BENCH (.*)$", re.MULTILINE)


def run_wrk(
    server: Server, kind: str, source: str, connections: int, duration: float, threads: int
) -> dict[str, Any]:
    """One wrk run; its figures (latencies in ms)."""
    threads = max(1, min(threads, connections))
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s",
        "--timeout", "10s", "--latency", "-s", str(SCRIPT), server.url,
        "--", kind, source, str(threads),
    ]  # fmt: skip
    cpu_before = cpu_seconds(server.process.pid)
    started = time.perf_counter()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(server.process.pid) - cpu_before
    match = _BENCH_LINE.search(output)
    if match is None:
        raise SystemExit(f"wrk gave no figures:\n{output}")
    raw = {key: int(value) for key, value in (item.split("=") for item in match.group(1).split())}
    requests = raw["requests"]
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "req/s": round(requests / seconds, 1) if seconds else 0.0,
        "p50 ms": round(raw["p50_us"] / 1000, 2),
        "p90 ms": round(raw["p90_us"] / 1000, 2),
        "p99 ms": round(raw["p99_us"] / 1000, 2),
        "max ms": round(raw["max_us"] / 1000, 2),
        "non-2xx": raw["non2xx"],
        "socket errors": {
            "connect": raw["connect"],
            "read": raw["read"],
            "write": raw["write"],
            "timeout": raw["timeout"],
        },
        "server CPU s": round(cpu, 3),
        "CPU ms/request": round(cpu * 1000 / requests, 3) if requests else None,
        "wall s": round(elapsed, 2),
        "wrk threads": threads,
        "wrk output": output,
    }


def summary(name: str, figures: dict[str, Any]) -> str:
    """One printed line per run."""
    errors = sum(figures["socket errors"].values())
    return (
        f"  {name:<15} {figures['req/s']:>9.1f} req/s  p50 {figures['p50 ms']:>7.1f} ms  "
        f"p99 {figures['p99 ms']:>7.1f} ms  {figures['CPU ms/request'] or 0:>6.2f} CPU ms/req  "
        f"non-2xx {figures['non-2xx']}  socket errors {errors}"
    )


# --- the benchmark -------------------------------------------------------------------------------


def flush_queue(redis_url: str) -> None:
    """Empty the benchmark's Redis database (queued confirmation mails, rate-limit windows)."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


@contextlib.contextmanager
def serving(args: argparse.Namespace, var: Path) -> Iterator[tuple[Server, Server]]:
    """Both servers for the length of the block."""
    log = var / "servers.log"
    service, bare = start_servers(args, var, log)
    try:
        yield service, bare
    finally:
        stop(service)
        stop(bare)


def bench(args: argparse.Namespace) -> None:
    """Run every endpoint at every connection count; write one result file per pair."""
    settings = {
        "duration_s": args.duration,
        "connections": args.connections,
        "endpoints": args.endpoints,
        "wrk_threads": args.threads,
        "workers": args.workers if args.workers is not None else web_workers(os.environ),
        "signup_min_duration": (
            args.min_duration if args.min_duration is not None else "the service's default"
        ),
        "database": args.database_url.rpartition("@")[2],
        "redis": args.redis_url,
    }
    header = describe_run("http", settings)
    list_id = asyncio.run(prepare_database(args.database_url))
    signer = TokenSigner((Secret(SECRET),), {})
    flush_queue(args.redis_url)
    round_trips = count_round_trips_per_request(args, list_id)
    for endpoint, counts in round_trips.items():
        print(f"{endpoint}: " + ", ".join(f"{k} {v:g}" for k, v in counts.items()) + " per request")
    stamp = datetime.now(UTC).strftime("%H%M%S")
    flush_queue(args.redis_url)
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        var = Path(tmp)
        with serving(args, var) as (service, bare):
            print(f"serving: subscriptions on {service.url}, bare on {bare.url}")
            if args.warmup > 0:
                run_wrk(service, "json", f"warmup-{stamp}", 10, args.warmup, args.threads)
                run_wrk(bare, "bare", "warmup", 10, args.warmup, args.threads)
                flush_queue(args.redis_url)
            for connections in args.connections:
                reference = run_wrk(bare, "bare", "bare", connections, args.duration, args.threads)
                print(f"{connections} connections (load {os.getloadavg()[0]:.2f})")
                print(summary("bare", reference))
                for endpoint in args.endpoints:
                    tag = f"b{stamp}c{connections}{endpoint.replace('subscribe-', '')[:4]}"
                    figures = run_endpoint(
                        args, service, endpoint, tag, connections, list_id, signer, var
                    )
                    figures["round trips per request"] = round_trips[endpoint]
                    print(summary(endpoint, figures))
                    record(header, endpoint, connections, figures, reference)
    print(f"server log: kept only while running; load at the end {os.getloadavg()}")


def count_round_trips_per_request(
    args: argparse.Namespace, list_id: int
) -> dict[str, dict[str, float]]:
    """SQL statements, transactions and Redis round trips per request of each endpoint, from
    the app in this process (bench/http/statements.py)."""
    from bench.http.statements import REQUESTS, count_round_trips, settings_for

    keys = asyncio.run(seed_subscribers(args.database_url, list_id, "count", REQUESTS + 1))
    settings = settings_for(args.database_url, args.redis_url, SECRET)
    counts = asyncio.run(count_round_trips(settings, list_id, keys, "count"))
    flush_queue(args.redis_url)
    return counts


def run_endpoint(
    args: argparse.Namespace,
    service: Server,
    endpoint: str,
    tag: str,
    connections: int,
    list_id: int,
    signer: TokenSigner,
    var: Path,
) -> dict[str, Any]:
    """One wrk run against one endpoint, and what the database holds afterwards."""
    load_before = os.getloadavg()
    if endpoint == "unsubscribe":
        count = max(1000, int(args.duration * TOKEN_RATE))
        keys = asyncio.run(seed_subscribers(args.database_url, list_id, tag, count))
        tokens = var / f"{tag}.tokens"
        tokens.write_text(
            "".join(sign_unsubscribe(signer, key, CAMPAIGN_ID, [list_id]) + "\n" for key in keys)
        )
        figures = run_wrk(
            service, "unsubscribe", str(tokens), connections, args.duration, args.threads
        )
        left = asyncio.run(count_unsubscribed(args.database_url, tag))
        figures["database"] = {"unsubscribed": left, "tokens": count}
        # Every answered request with a fresh token left its list; repeats (past the last
        # token) change nothing. Requests still in flight when wrk stops are not counted by
        # wrk but may have been served: up to one per connection.
        answered = min(figures["requests"] - figures["non-2xx"], count)
        figures["verified"] = answered <= left <= answered + connections
    else:
        kind = "json" if endpoint == "subscribe-json" else "form"
        figures = run_wrk(service, kind, tag, connections, args.duration, args.threads)
        written = asyncio.run(count_signups(args.database_url, tag))
        figures["database"] = written
        answered = figures["requests"] - figures["non-2xx"]
        figures["verified"] = (
            written["subscribers"] == written["pending"] == written["outbox"]
            and answered <= written["subscribers"] <= answered + connections
        )
        asyncio.run(empty_outbox(args.database_url))
    figures["load average"] = {"before": load_before, "after": os.getloadavg()}
    flush_queue(args.redis_url)
    return figures


def record(
    header: dict[str, Any],
    endpoint: str,
    connections: int,
    figures: dict[str, Any],
    reference: dict[str, Any],
) -> None:
    """The result file of one endpoint at one connection count."""
    share = 100 * figures["req/s"] / reference["req/s"] if reference["req/s"] else None
    headline: dict[str, float | int | None] = {
        "req/s": figures["req/s"],
        "bare req/s": reference["req/s"],
        "% of bare": round(share, 1) if share is not None else None,
        "p99 ms": figures["p99 ms"],
        "CPU ms/request": figures["CPU ms/request"],
        "non-2xx": figures["non-2xx"],
        "SQL statements/request": figures["round trips per request"]["SQL statements"],
    }
    if not figures["verified"]:
        print(f"  NOT VERIFIED: wrk counted {figures['requests']}, database {figures['database']}")
    write_result(
        header,
        f"{endpoint}, {connections} connections"
        + (f", {processes} processes" if (processes := header["settings"]["workers"]) != 1 else ""),
        {"endpoint": figures, "bare": reference},
        headline,
        name_suffix=f"{endpoint}-{connections}",
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="dropped and created")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="this database is flushed"
    )
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per wrk run")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(item) for item in text.split(",")],
        default=[50, 200, 400],
        help="comma-separated (default 50,200,400)",
    )
    parser.add_argument(
        "--endpoints",
        type=lambda text: text.split(","),
        default=list(ENDPOINTS),
        help=f"comma-separated, of {', '.join(ENDPOINTS)}",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes (default: brevdue serve's)"
    )
    parser.add_argument(
        "--min-duration",
        type=float,
        default=None,
        help="the sign-up answer-time floor in seconds (default: the service's, 0.15)",
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds at 10 connections")
    args = parser.parse_args(argv)
    unknown = set(args.endpoints) - set(ENDPOINTS)
    if unknown:
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark."""
    bench(parse_args(argv))
