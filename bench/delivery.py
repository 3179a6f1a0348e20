"""Delivery benchmark: a personalised campaign to Postfix's smtp-sink, Brevdue vs a naive loop.

    python -m bench.delivery --recipients 100000 [--processes 2] [--database-url URL]

Seeds N confirmed subscribers, then (1) a naive stdlib loop renders the same templates, builds
an ``EmailMessage`` and sends it with ``smtplib`` over one connection, and (2) Brevdue's mailer
processes fan the campaign out and deliver it. Prints msgs/s of both, their ratio and the peak
RSS of each mailer process, and writes the figures as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import smtplib
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis

from brevdue_cli.redis_server import free_port
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

RESULTS = Path(__file__).parent / "results"
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
    await engine.dispose()
    return int(campaign_id)


def naive_loop(port: int, recipients: int) -> float:
    """The stdlib way: render, build an EmailMessage, send it; one connection. Returns msgs/s."""
    signer = TokenSigner((Secret(SECRET),))
    subject = compile_template(SUBJECT, field="subject", html=False)
    body = compile_template(BODY, field="body")
    body_text = compile_template(BODY_TEXT, field="body_text", html=False)
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as client:
        for n in range(recipients):
            key = f"{n:032x}"
            unsubscribe = f"{PUBLIC_URL}/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, [key, 1])}"
            context = {
                "subscriber": {
                    "name": f"Åse Sørensen {n}",
                    "email": f"r{n}@example.org",
                    "language": "da",
                },
                "campaign": {"id": 1, "subject": SUBJECT},
                "unsubscribe_url": unsubscribe,
                "preferences_url": f"{PUBLIC_URL}/preferences/"
                + signer.sign(Purpose.PREFERENCES, [key]),
            }
            message = EmailMessage()
            message["From"] = MAIL_FROM
            message["To"] = f"Åse Sørensen {n} <r{n}@example.org>"
            message["Subject"] = subject.render(context)
            message["List-Unsubscribe"] = f"<{unsubscribe}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            message.set_content(body_text.render(context))
            message.add_alternative(body.render(context), subtype="html")
            client.sendmail(
                "nyhedsbrev@kultur.example", [f"r{n}@example.org"], message.as_bytes(policy=SMTP)
            )
    return recipients / (time.perf_counter() - started)


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


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def brevdue(args: argparse.Namespace, port: int, campaign_id: int) -> dict[str, Any]:
    """Run the mailer processes on the campaign; msgs/s from enqueue to the run's end."""
    env = {
        **os.environ,
        "BREVDUE_DATABASE_URL": args.database_url,
        "BREVDUE_REDIS_URL": args.redis_url,
        "BREVDUE_SMTP_URL": f"smtp://127.0.0.1:{port}?starttls=off",
        "BREVDUE_SECRET_KEYS": SECRET,
        "BREVDUE_MAIL_FROM": MAIL_FROM,
        "BREVDUE_SUBSCRIPTIONS_PUBLIC_URL": PUBLIC_URL,
        "BREVDUE_LOG_LEVEL": "WARNING",
        "BREVDUE_LOG_FORMAT": "json",
        "BREVDUE_MAILER_SMTP_PIPELINING": "0" if args.no_pipelining else "1",
    }
    if args.dkim:
        env.update(
            BREVDUE_MAILER_DKIM_DOMAIN="kultur.example",
            BREVDUE_MAILER_DKIM_SELECTOR="bench",
            BREVDUE_MAILER_DKIM_KEY_FILE=str(_throwaway_key(Path(args.workdir))),
        )
    redis = Redis.from_url(args.redis_url)
    workers = [
        await asyncio.create_subprocess_exec(sys.executable, "-m", "services.mailer", env=env)
        for _ in range(args.processes)
    ]
    engine = create_engine(args.database_url)
    try:
        for _ in range(600):  # the workers record their health once they poll
            if await redis.exists(HEALTH_CHECK_KEY_BULK):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # let every process finish starting up
        pool = await create_job_pool(args.redis_url, BULK_QUEUE)
        cpu_before = [_cpu_seconds(worker.pid) for worker in workers]
        started = time.perf_counter()
        await enqueue(pool, START_CAMPAIGN, StartCampaign(campaign_id=campaign_id))
        await pool.aclose()
        while True:
            await asyncio.sleep(0.1)
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
        cpu = [_cpu_seconds(w.pid) - b for w, b in zip(workers, cpu_before, strict=True)]
        rss = [_peak_rss_mb(worker.pid) for worker in workers]
        async with engine.connect() as conn:
            counts: dict[str, int] = dict(
                (
                    await conn.execute(
                        sa.select(deliveries.c.status, sa.func.count()).group_by(
                            deliveries.c.status
                        )
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
    return {
        "elapsed_s": elapsed,
        "msgs_per_s": args.recipients / elapsed,
        # CPU time the mailer processes spent on the campaign: unlike msgs/s, hardly moved by
        # other work on a shared machine.
        "cpu_s": cpu,
        "cpu_us_per_msg": sum(cpu) / args.recipients * 1e6,
        "peak_rss_mb": rss,
        "ledger": counts,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Seed, run both senders against smtp-sink, return the figures."""
    load_at_start = _loadavg()
    sink_binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    sink = await asyncio.create_subprocess_exec(
        sink_binary, "-u", "nobody", f"127.0.0.1:{port}", "1000"
    )
    try:
        await asyncio.sleep(0.3)
        redis = Redis.from_url(args.redis_url)
        await redis.flushdb()
        await redis.aclose()
        print(f"seeding {args.recipients} subscribers …", flush=True)
        campaign_id = await seed(args.database_url, args.recipients)
        naive_n = min(args.recipients, args.naive_recipients or args.recipients)
        print(f"naive stdlib loop on {naive_n} recipients …", flush=True)
        naive = await asyncio.to_thread(naive_loop, port, naive_n)
        print(f"  {naive:,.0f} msg/s", flush=True)
        print(f"brevdue mailer, {args.processes} process(es) …", flush=True)
        ours = await brevdue(args, port, campaign_id)
        print(f"  {ours['msgs_per_s']:,.0f} msg/s", flush=True)
    finally:
        sink.send_signal(signal.SIGTERM)
        await sink.wait()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "recipients": args.recipients,
        "processes": args.processes,
        "smtp_client": "aiosmtplib" if args.no_pipelining else "pipelining",
        "dkim": args.dkim,
        "database": args.database_url.split(":", 1)[0],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "loadavg": {"start": load_at_start, "end": _loadavg()},
        "naive_recipients": naive_n,
        "naive_msgs_per_s": round(naive, 1),
        "brevdue": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in ours.items()},
        "ratio": round(ours["msgs_per_s"] / naive, 2),
    }


def main() -> None:
    """Parse options, run, print and save the figures."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.delivery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--naive-recipients",
        type=int,
        default=0,
        help="run the naive loop on this many only (default: all)",
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--no-pipelining",
        action="store_true",
        help="campaign mail over aiosmtplib instead of the pipelining client",
    )
    parser.add_argument(
        "--dkim",
        action="store_true",
        help="DKIM-sign every campaign message with a throwaway 2048-bit RSA key",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="brevdue-bench-"))
    args.workdir = str(workdir)
    if not args.database_url:
        args.database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    if args.database_url.startswith("postgresql"):
        engine_url = args.database_url

        async def reset() -> None:
            engine = create_engine(engine_url)
            async with engine.begin() as conn:
                await conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(sa.text("CREATE SCHEMA public"))
            await engine.dispose()

        asyncio.run(reset())
    upgrade(args.database_url)
    try:
        result = asyncio.run(run(args))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    brevdue_result = result["brevdue"]
    print(
        f"\nnaive {result['naive_msgs_per_s']:,.0f} msg/s | brevdue "
        f"{brevdue_result['msgs_per_s']:,.0f} msg/s{' with DKIM' if args.dkim else ''} | "
        f"ratio {result['ratio']}× | {brevdue_result['cpu_us_per_msg']:,.0f} µs CPU/msg | "
        "peak RSS "
        + ", ".join(f"{mb:.0f} MB" for mb in brevdue_result["peak_rss_mb"])
        + f" | load {result['loadavg']['start'][0]:.1f} → {result['loadavg']['end'][0]:.1f}"
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"delivery-{result['when'].replace(':', '')}-{args.recipients}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
