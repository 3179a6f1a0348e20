"""Delivery benchmark: a personalised campaign to Postfix's smtp-sink, beside two references.

    python -m bench.delivery                                   # PostgreSQL, 100k, 2 processes
    python -m bench.delivery --database-url sqlite             # the embedded default
    python -m bench.delivery --processes 1,2,4 --recipients 50000 --naive-recipients 5000

Three senders deliver the same campaign (~6 KB of personalised MIME per recipient) to smtp-sink
in one run, so the figures are ratios measured side by side:

1. the client ceiling: as many processes as the mailer gets, each sending pre-built messages of
   the campaign with aiosmtplib over 10 persistent connections; no rendering, no database;
2. a naive stdlib loop: render, build an ``EmailMessage``, send with ``smtplib`` over one
   connection, in one process;
3. Brevdue's mailer processes (``python -m services.mailer``), timed from the ``start_campaign``
   enqueue until the campaign run is finished (fan-out, ledger writes and delivery included).

For each number of processes in ``--processes`` it seeds a fresh database, measures the ceiling
(before and after the mailer: the mean is the reference) and the mailer, and writes one result
file (bench/record.py) with msg/s, % of the ceiling,
× the naive loop, CPU µs per message, peak RSS, and the CPU seconds and utilisation (CPU s per
wall s) of everything that took part: the mailer processes, the PostgreSQL server, smtp-sink,
Redis. The naive loop runs once per invocation and is shared by its result files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import smtplib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jinja2 import Template
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from bench.processes import cpu_seconds, peak_rss_mb
from bench.record import describe_run, fresh_postgres_database, write_result
from brevdue_cli.redis_server import free_port
from services.mailer.config import MailerOptions
from shared.campaign_templates import compile_template
from shared.contracts import StartCampaign
from shared.db import create_engine
from shared.jobs import create_job_pool, enqueue
from shared.migrate import upgrade
from shared.queues import BULK_QUEUE, HEALTH_CHECK_KEY_BULK, START_CAMPAIGN
from shared.schema import (
    campaign_lists,
    campaign_runs,
    campaigns,
    deliveries,
    mailing_lists,
    subscribers,
    subscriptions,
)
from shared.settings import Secret
from shared.tokens import Purpose, TokenSigner

DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_delivery"
# The client the mailer uses for campaign mail when nothing chooses one.
PRODUCT_CLIENT = "pipelining" if MailerOptions().smtp_pipelining else "aiosmtplib"
CEILING_CONNECTIONS = 10  # as the mailer's default pool for campaign mail
SECRET = "bench-secret-key-not-for-production"
MAIL_FROM = "KulturMetropolØresund <nyhedsbrev@kultur.example>"
PUBLIC_URL = "https://tilmeld.kulturmetropol.example"
SUBJECT = "Kulturnyt fra Øresund til {{ subscriber.name }}"
BODY = (
    "<html><body><h1>Kulturnyt – uge 48</h1>"
    "<p>Hej {{ subscriber.name }}, her er ugens nyheder fra Øresundsregionen.</p>"
    + "<p>Koncerter, udstillinger og foredrag i Malmö, Lund, Helsingør og København – "
    "se hele programmet på vores side. Æbleskiver og gløgg på torvet lørdag.</p>"
    * 12
    + '<p><a href="{{ preferences_url }}">Indstillinger</a></p></body></html>'
)
BODY_TEXT = (
    "Kulturnyt – uge 48\n\n"
    "Hej {{ subscriber.name }}, her er ugens nyheder fra Øresundsregionen.\n\n"
    + "Koncerter, udstillinger og foredrag i Malmö, Lund, Helsingør og København – se hele "
    "programmet på vores side. Æbleskiver og gløgg på torvet lørdag.\n\n"
    * 12
    + "Indstillinger: {{ preferences_url }}\n"
)
NOW = datetime.now(UTC)


async def seed(database_url: str, recipients: int) -> int:
    """One list, N confirmed active subscribers, one campaign; return the campaign id."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        list_id = (
            await conn.execute(
                sa.insert(mailing_lists).values(
                    slug="kultur",
                    name_da="Kultur",
                    name_sv="Kultur",
                    name_en="Culture",
                    created_at=NOW,
                )
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        languages = ("da", "sv", "en")
        for start in range(0, recipients, 10_000):
            numbers = range(start, min(recipients, start + 10_000))
            await conn.execute(
                sa.insert(subscribers),
                [
                    {
                        "id": n + 1,
                        "key": f"{n:032x}",
                        "email": f"r{n}@example.org",
                        "name": f"Åse Sørensen {n}",
                        "language": languages[n % 3],
                        "status": "active",
                        # Kept by the subscriptions service with each confirmation; the
                        # audience condition reads it.
                        "confirmed_lists": 1,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for n in numbers
                ],
            )
            await conn.execute(
                sa.insert(subscriptions),
                [
                    {
                        "subscriber_id": n + 1,
                        "list_id": list_id,
                        "status": "confirmed",
                        "requested_at": NOW,
                        "confirmed_at": NOW,
                    }
                    for n in numbers
                ],
            )
        campaign_id = (
            await conn.execute(
                sa.insert(campaigns).values(
                    subject=SUBJECT,
                    body=BODY,
                    body_text=BODY_TEXT,
                    status="draft",  # the mailer ignores it; "sending" would wake the reconciler
                    created_at=NOW,
                    updated_at=NOW,
                    send_requested_at=NOW,
                )
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        await conn.execute(
            sa.insert(campaign_lists).values(campaign_id=campaign_id, list_id=list_id)
        )
    if engine.dialect.name == "postgresql":
        # A production audience has planner statistics (autovacuum keeps them); rows inserted a
        # second ago have none, and without them the planner drives the claim's audience check
        # from every subscriber (seconds per chunk) instead of from the chunk's 100 rows.
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("ANALYZE"))
    await engine.dispose()
    return int(campaign_id)


def naive_templates() -> tuple[Template, Template, Template]:
    """The campaign's subject, HTML and text templates, compiled as the naive loop uses them."""
    return (
        compile_template(SUBJECT, field="subject", html=False),
        compile_template(BODY, field="body"),
        compile_template(BODY_TEXT, field="body_text", html=False),
    )


def naive_message(
    signer: TokenSigner, templates: tuple[Template, Template, Template], n: int
) -> tuple[str, bytes]:
    """Recipient ``n``'s message the stdlib way: (envelope address, ~6 KB of MIME bytes)."""
    subject, body, body_text = templates
    key = f"{n:032x}"
    unsubscribe = f"{PUBLIC_URL}/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, [key, 1])}"
    context = {
        "subscriber": {"name": f"Åse Sørensen {n}", "email": f"r{n}@example.org", "language": "da"},
        "campaign": {"id": 1, "subject": SUBJECT},
        "unsubscribe_url": unsubscribe,
        "preferences_url": f"{PUBLIC_URL}/preferences/" + signer.sign(Purpose.PREFERENCES, [key]),
    }
    message = EmailMessage()
    message["From"] = MAIL_FROM
    message["To"] = f"Åse Sørensen {n} <r{n}@example.org>"
    message["Subject"] = subject.render(context)
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body_text.render(context))
    message.add_alternative(body.render(context), subtype="html")
    return f"r{n}@example.org", message.as_bytes(policy=SMTP)


def naive_loop(port: int, recipients: int) -> dict[str, float]:
    """The stdlib way, one message after the other over one connection: msg/s and CPU s."""
    signer = TokenSigner((Secret(SECRET),))
    templates = naive_templates()
    cpu = time.process_time()
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as client:
        for n in range(recipients):
            address, data = naive_message(signer, templates, n)
            client.sendmail("nyhedsbrev@kultur.example", [address], data)
    seconds = time.perf_counter() - started
    return {
        "recipients": recipients,
        "seconds": seconds,
        "msg/s": recipients / seconds,
        "cpu_s": time.process_time() - cpu,
    }


# --- CPU accounting ------------------------------------------------------------------------


def _postgres_processes(database: str | None) -> dict[int, bool]:
    """PostgreSQL server processes on this machine: pid -> serves ``database``."""
    found: dict[int, bool] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(entry.name)] = database is not None and f" {database} " in title
    return found


@dataclass
class PostgresMeter:
    """CPU time of the PostgreSQL server's processes between ``start`` and the last ``sample``.

    Backends that start during the run count from zero; a process that ends before the last
    sample keeps what it had used at the sample before (sample often).
    """

    database: str | None
    first: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)
    ours: set[int] = field(default_factory=set)

    def start(self) -> None:
        """Take the starting point."""
        for pid in _postgres_processes(self.database):
            cpu = cpu_seconds(pid)
            if cpu is not None:
                self.first[pid] = self.last[pid] = cpu

    def sample(self) -> None:
        """Note every server process's CPU time now."""
        for pid, serves_us in _postgres_processes(self.database).items():
            cpu = cpu_seconds(pid)
            if cpu is None:
                continue
            self.first.setdefault(pid, 0.0)
            self.last[pid] = cpu
            if serves_us:
                self.ours.add(pid)

    def seconds(self, *, only_ours: bool = False) -> float:
        """CPU seconds used since ``start``: all server processes, or this database's backends."""
        return sum(
            self.last[pid] - self.first[pid]
            for pid in self.last
            if not only_ours or pid in self.ours
        )


async def _redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


# --- The ceiling: aiosmtplib alone -----------------------------------------------------------


async def ceiling(port: int, recipients: int, processes: int) -> dict[str, Any]:
    """N processes of ``bench.smtp_ceiling`` side by side, ``recipients`` messages in all."""
    shares = [recipients // processes + (i < recipients % processes) for i in range(processes)]
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.smtp_ceiling",
            "--port",
            str(port),
            "--messages",
            str(share),
            "--connections",
            str(CEILING_CONNECTIONS),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for share in shares
    ]
    for child in children:
        assert child.stdout is not None
        line = await child.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"the ceiling's client did not start: {line!r}")
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
    reports = []
    for child in children:
        out, _ = await child.communicate()
        if child.returncode:
            raise RuntimeError(f"the ceiling's client failed ({child.returncode})")
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    # Each child times its own sending; the slowest one ends the run (they start together).
    seconds = max(report["seconds"] for report in reports)
    return {
        "msg/s": recipients / seconds,
        "seconds": seconds,
        "per_process": reports,
        "cpu_us_per_msg": sum(r["cpu_s"] for r in reports) / recipients * 1e6,
    }


def _throwaway_key(directory: Path) -> Path:
    """A fresh 2048-bit RSA key for signing (the receiving sink does not check signatures)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = directory / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


# --- Brevdue's mailer ----------------------------------------------------------------------


def _mailer_environment(args: argparse.Namespace, database_url: str, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "BREVDUE_DATABASE_URL": database_url,
        "BREVDUE_REDIS_URL": args.redis_url,
        "BREVDUE_SMTP_URL": f"smtp://127.0.0.1:{port}?starttls=off",
        "BREVDUE_SECRET_KEYS": SECRET,
        "BREVDUE_MAIL_FROM": MAIL_FROM,
        "BREVDUE_SUBSCRIPTIONS_PUBLIC_URL": PUBLIC_URL,
        "BREVDUE_LOG_LEVEL": "WARNING",
        "BREVDUE_LOG_FORMAT": "json",
    }
    # The product's default client unless asked otherwise: the variable is set only to choose.
    env.pop("BREVDUE_MAILER_SMTP_PIPELINING", None)
    if args.smtp_client != PRODUCT_CLIENT:
        env["BREVDUE_MAILER_SMTP_PIPELINING"] = "1" if args.smtp_client == "pipelining" else "0"
    if args.dkim:
        env.update(
            BREVDUE_MAILER_DKIM_DOMAIN="kultur.example",
            BREVDUE_MAILER_DKIM_SELECTOR="bench",
            BREVDUE_MAILER_DKIM_KEY_FILE=str(_throwaway_key(Path(args.workdir))),
        )
    return env


async def brevdue(
    args: argparse.Namespace,
    database_url: str,
    port: int,
    sink_pid: int,
    campaign_id: int,
    processes: int,
) -> dict[str, Any]:
    """Run the mailer processes on the campaign; msg/s from enqueue to the run's end."""
    env = _mailer_environment(args, database_url, port)
    redis = Redis.from_url(args.redis_url)
    workers = [
        await asyncio.create_subprocess_exec(sys.executable, "-m", "services.mailer", env=env)
        for _ in range(processes)
    ]
    engine = create_engine(database_url)
    is_postgres = database_url.startswith("postgresql")
    postgres = PostgresMeter(make_url(database_url).database if is_postgres else None)
    try:
        for _ in range(600):  # the workers record their health once they poll
            if await redis.exists(HEALTH_CHECK_KEY_BULK):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # let every process finish starting up
        pool = await create_job_pool(args.redis_url, BULK_QUEUE)
        mailer_before = [cpu_seconds(worker.pid) or 0.0 for worker in workers]
        sink_before = cpu_seconds(sink_pid) or 0.0
        redis_before = await _redis_cpu(redis)
        postgres.start()
        started = time.perf_counter()
        await enqueue(pool, START_CAMPAIGN, StartCampaign(campaign_id=campaign_id))
        await pool.aclose()
        polls = 0
        while True:
            await asyncio.sleep(0.1)
            polls += 1
            if polls % 5 == 0:
                postgres.sample()
            async with engine.connect() as conn:
                finished = (
                    await conn.execute(
                        sa.select(campaign_runs.c.finished_at).where(
                            campaign_runs.c.campaign_id == campaign_id
                        )
                    )
                ).scalar()
            if finished is not None:
                break
        elapsed = time.perf_counter() - started
        postgres.sample()
        mailer_cpu = [
            (cpu_seconds(w.pid) or 0.0) - b for w, b in zip(workers, mailer_before, strict=True)
        ]
        sink_cpu = (cpu_seconds(sink_pid) or 0.0) - sink_before
        redis_cpu = await _redis_cpu(redis) - redis_before
        rss = [peak_rss_mb(worker.pid) for worker in workers]
        async with engine.connect() as conn:
            counts: dict[str, int] = dict(
                (
                    await conn.execute(
                        sa.select(deliveries.c.status, sa.func.count())
                        .where(deliveries.c.campaign_id == campaign_id)
                        .group_by(deliveries.c.status)
                    )
                ).all()
            )
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            await worker.wait()
        await engine.dispose()
        await redis.aclose()
    if counts.get("sent", 0) < 0.99 * args.recipients:
        raise RuntimeError(f"most recipients were not sent to: {counts}")
    if counts.get("sent", 0) != args.recipients:
        print(f"  not every row was sent (see the ledger in the result file): {counts}")
    cpu: dict[str, float] = {"mailer": sum(mailer_cpu), "smtp-sink": sink_cpu, "redis": redis_cpu}
    if is_postgres:
        cpu["postgresql (this database's backends)"] = postgres.seconds(only_ours=True)
        cpu["postgresql (whole server)"] = postgres.seconds()
    return {
        "seconds": elapsed,
        "msg/s": args.recipients / elapsed,
        # Unlike msg/s, hardly moved by other work on a shared machine.
        "cpu_us_per_msg": sum(mailer_cpu) / args.recipients * 1e6,
        "mailer_cpu_s": mailer_cpu,
        "peak_rss_mb": rss,
        "cpu_s": cpu,
        # CPU seconds per wall second: 1.0 is one core kept busy the whole run.
        "utilisation": {name: seconds / elapsed for name, seconds in cpu.items()},
        "ledger": counts,
    }


# --- One run ---------------------------------------------------------------------------------


def _database_kind(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


async def _fresh_database(args: argparse.Namespace, processes: int) -> str:
    """A new, migrated database for one step: PostgreSQL re-created, or a new SQLite file."""
    if args.database_url in ("sqlite", "sqlite+aiosqlite"):
        return f"sqlite+aiosqlite:///{Path(args.workdir) / f'bench-{processes}.db'}"
    await fresh_postgres_database(args.database_url)
    return str(args.database_url)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


async def step(
    args: argparse.Namespace,
    header: dict[str, Any],
    port: int,
    sink_pid: int,
    naive: dict[str, float],
    processes: int,
) -> dict[str, Any]:
    """One number of processes: fresh database, ceiling, mailer; write and return the figures."""
    database_url = await _fresh_database(args, processes)
    await asyncio.to_thread(upgrade, database_url)
    redis = Redis.from_url(args.redis_url)
    await redis.flushdb()
    await redis.aclose()
    print(f"[{processes} process(es)] seeding {args.recipients} subscribers …", flush=True)
    campaign_id = await seed(database_url, args.recipients)
    print(f"[{processes} process(es)] client ceiling (aiosmtplib, pre-built) …", flush=True)
    before = await ceiling(port, args.recipients, processes)
    print(f"  {before['msg/s']:,.0f} msg/s", flush=True)
    print(f"[{processes} process(es)] brevdue mailer ({args.smtp_client}) …", flush=True)
    ours = await brevdue(args, database_url, port, sink_pid, campaign_id, processes)
    # The ceiling takes a few seconds: once before and once after the mailer, so that a burst
    # of other work on the machine during one of them moves the reference less.
    print(f"[{processes} process(es)] client ceiling again …", flush=True)
    after = await ceiling(port, args.recipients, processes)
    print(f"  {after['msg/s']:,.0f} msg/s", flush=True)
    top = {
        "msg/s": (before["msg/s"] + after["msg/s"]) / 2,
        "cpu_us_per_msg": (before["cpu_us_per_msg"] + after["cpu_us_per_msg"]) / 2,
        "runs": [before, after],
    }
    share = ours["msg/s"] / top["msg/s"] * 100
    times_naive = ours["msg/s"] / naive["msg/s"]
    kind = _database_kind(database_url)
    print(
        f"  {ours['msg/s']:,.0f} msg/s = {share:.0f}% of the ceiling, {times_naive:.1f}× naive | "
        f"{ours['cpu_us_per_msg']:,.0f} µs CPU/msg | peak RSS "
        + ", ".join(f"{mb:.0f} MB" for mb in ours["peak_rss_mb"])
        + " | utilisation "
        + ", ".join(f"{name} {u:.2f}" for name, u in ours["utilisation"].items())
        + f" | load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    headline = {
        "msg/s": round(ours["msg/s"], 1),
        "naive msg/s": round(naive["msg/s"], 1),
        "ceiling msg/s": round(top["msg/s"], 1),
        "% of ceiling": round(share, 1),
        "× naive": round(times_naive, 2),
        "µs CPU/msg": round(ours["cpu_us_per_msg"], 1),
        "peak RSS MB": round(max(ours["peak_rss_mb"]), 1),
    }
    figures = {"brevdue": ours, "ceiling": top, "naive": naive, "database": kind}
    write_result(
        header,
        f"{kind}, {args.smtp_client}, {processes} process{'es' if processes > 1 else ''}"
        + (", DKIM" if args.dkim else ""),
        _rounded(figures),
        headline,
        name_suffix=f"{kind}-{args.smtp_client}-{processes}p-{args.recipients}",
    )
    return headline


async def run(args: argparse.Namespace, header: dict[str, Any]) -> list[dict[str, Any]]:
    """Start smtp-sink, time the naive loop once, then each number of processes."""
    sink_binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    # 1000: the backlog, as deep as the senders' connections need.
    sink = await asyncio.create_subprocess_exec(
        sink_binary, "-u", "nobody", f"127.0.0.1:{port}", "1000"
    )
    headlines = []
    try:
        await asyncio.sleep(0.3)
        naive_n = min(args.recipients, args.naive_recipients or args.recipients)
        print(f"naive stdlib loop on {naive_n} recipients …", flush=True)
        naive = await asyncio.to_thread(naive_loop, port, naive_n)
        print(f"  {naive['msg/s']:,.0f} msg/s", flush=True)
        for processes in args.processes:
            headlines.append(await step(args, header, port, sink.pid, naive, processes))
    finally:
        sink.send_signal(signal.SIGTERM)
        await sink.wait()
    return headlines


def _process_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("a list of positive numbers, like 1,2,4")
    return counts


def main() -> None:
    """Parse options, run each step, print and save the figures."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.delivery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument(
        "--processes",
        type=_process_counts,
        default=[2],
        help="mailer processes (and ceiling processes), or a list like 1,2,4: one result each",
    )
    parser.add_argument(
        "--naive-recipients",
        type=int,
        default=5_000,
        help="run the slow naive loop on this many only (0: all); its rate does not depend on it",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="PostgreSQL (dropped and created again for each step) or 'sqlite' for a temporary "
        f"SQLite file, the embedded default (default: {DEFAULT_DATABASE})",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="flushed")
    parser.add_argument(
        "--smtp-client",
        choices=("aiosmtplib", "pipelining"),
        default=PRODUCT_CLIENT,
        help=f"the mailer's client for campaign mail (default: the product's, {PRODUCT_CLIENT})",
    )
    parser.add_argument(
        "--dkim",
        action="store_true",
        help="DKIM-sign every campaign message with a throwaway 2048-bit RSA key",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="brevdue-bench-"))
    args.workdir = str(workdir)
    settings = {
        "recipients": args.recipients,
        "naive_recipients": args.naive_recipients,
        "processes": args.processes,
        "database": _database_kind(args.database_url),
        "smtp_client": args.smtp_client,
        "ceiling_connections": CEILING_CONNECTIONS,
        "dkim": args.dkim,
    }
    header = describe_run("delivery", settings)
    try:
        headlines = asyncio.run(run(args, header))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    for processes, headline in zip(args.processes, headlines, strict=False):
        print(
            f"{processes} process(es): {headline['msg/s']:,.0f} msg/s | ceiling "
            f"{headline['ceiling msg/s']:,.0f} ({headline['% of ceiling']:.0f}%) | naive "
            f"{headline['naive msg/s']:,.0f} ({headline['× naive']:.1f}×) | "
            f"{headline['µs CPU/msg']:,.0f} µs CPU/msg | peak RSS {headline['peak RSS MB']:.0f} MB"
        )


if __name__ == "__main__":
    main()
