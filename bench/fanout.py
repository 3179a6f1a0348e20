"""Fan-out benchmark: a campaign to a million confirmed residents, until every one is queued.

    python -m bench.fanout [--recipients 1000000] [--processes 2] [--segment] [--reuse]

Builds the audience in SQL (generate_series): residents with Danish and Swedish first and last
names, each in one of the region's municipalities (shared/municipalities.py), confirmed on the
list ``kultur``; one in 21 subscribers is not in the audience (pending, unsubscribed or
blocked), so the audience is filtered, not taken whole. Then ``--processes`` mailer processes
(``python -m services.mailer``) get ``start_campaign`` on the bulk queue, as the campaigns
service sends it, and the run is timed until the fan-out has recorded its end
(``campaign_runs.fanned_out_at``, written after the last batch job was enqueued): every
recipient has a ledger row and is named by a ``deliver_batch`` job in Redis.

Delivery is held back by a real product setting, the global send rate
(``BREVDUE_MAILER_RATE_LIMIT=1``: one message a second over all processes, to Postfix's
smtp-sink), so the batch jobs wait in the queue and the run measures the fan-out. Afterwards
the benchmark checks that every ledger row is named by a queued job, and times the reference in
the same database: one bare ``INSERT … SELECT`` of the same ledger rows (same columns, the same
Message-IDs computed in SQL) under another campaign, in a transaction that is rolled back.

Recorded: fan-out seconds, ledger rows, batch jobs, the peak RSS (VmHWM) of each mailer process
and of this one, Redis ``used_memory`` sampled every 50 ms, the CPU time of the mailer
processes and of the PostgreSQL backends serving this database, the load average. The result
goes to bench/results/fanout-<time>.json (see bench/record.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import sys
import time
from typing import Any

import msgspec
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.processes import cpu_seconds, peak_rss_mb
from bench.record import describe_run, fresh_postgres_database, write_result
from brevdue_cli.redis_server import free_port
from shared.contracts import StartCampaign
from shared.db import create_engine
from shared.jobs import create_job_pool, deserialize_job, enqueue
from shared.migrate import upgrade
from shared.municipalities import MUNICIPALITIES
from shared.queues import BULK_QUEUE, DELIVER_BATCH, HEALTH_CHECK_KEY_BULK, START_CAMPAIGN

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_fanout"
SECRET = "bench-secret-key-not-for-production"
DOMAIN = "kultur.example"
MAIL_FROM = f"KulturMetropolØresund <nyhedsbrev@{DOMAIN}>"

DANISH_FIRST = (
    "Anne", "Mette", "Kirsten", "Hanne", "Freja", "Ida", "Signe", "Søs", "Birgitte", "Æbbe",
    "Søren", "Jens", "Lars", "Mikkel", "Rasmus", "Niels", "Jørgen", "Bjørn", "Asger", "Ove",
)  # fmt: skip
DANISH_LAST = (
    "Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen",
    "Sørensen", "Rasmussen", "Jørgensen", "Møller", "Kjær", "Græsbøll", "Holm", "Østergaard",
)  # fmt: skip
SWEDISH_FIRST = (
    "Astrid", "Åsa", "Karin", "Ingrid", "Linnéa", "Märta", "Elsa", "Maja", "Saga", "Björk",
    "Björn", "Erik", "Sven", "Göran", "Olof", "Håkan", "Nils", "Lasse", "Anders", "Örjan",
)  # fmt: skip
SWEDISH_LAST = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Åkesson", "Lindström", "Sjöberg", "Ström", "Öberg",
)  # fmt: skip

SUBJECT = "Kulturnyt fra Øresund til {{ subscriber.name }}"
BODY = (
    "<html><body><h1>Kulturnyt – uge 48</h1>"
    "<p>Hej {{ subscriber.name }}, her er ugens nyheder fra Øresundsregionen: koncerter,"
    " udstillinger og foredrag i Malmö, Lund, Helsingør og København.</p>"
    '<p><a href="https://kultur.example/program">Hele programmet</a></p></body></html>'
)

# Every table in SQL, one statement each: no rows pass through Python. Subscriber i is in the
# audience unless i % 21 = 0 (those rotate over pending, unsubscribed and blocked); two in
# three are Danish (language da, a Danish municipality), the rest Swedish (sv, Skåne).
_SEED = [
    """INSERT INTO mailing_lists (slug, name_da, name_sv, name_en, description_da,
         description_sv, description_en, is_public, double_optin, created_at)
       VALUES ('kultur', 'Kultur', 'Kultur', 'Culture', '', '', '', true, true, now())""",
    """INSERT INTO subscribers (id, key, email, email_key, name, language, status, created_at,
         updated_at, municipality, confirmed_lists, minor)
       SELECT i, md5(i::text), p.email, p.email, p.first || ' ' || p.last, p.language,
         CASE WHEN i % 63 = 42 THEN 'blocked' ELSE 'active' END,
         now() - make_interval(days => i % 1000), now(),
         CASE WHEN p.danish THEN (:dk ::text[])[1 + i % :dk_n]
              ELSE (:se ::text[])[1 + i % :se_n] END,
         CASE WHEN i % 21 = 0 AND i % 63 <> 42 THEN 0 ELSE 1 END,
         i % 97 = 0
       FROM generate_series(1, :total) AS i
       CROSS JOIN LATERAL (
         SELECT i % 3 <> 0 AS danish,
           CASE WHEN i % 3 <> 0 THEN (:dk_first ::text[])[1 + i % 20]
                ELSE (:se_first ::text[])[1 + i % 20] END AS first,
           CASE WHEN i % 3 <> 0 THEN (:dk_last ::text[])[1 + (i / 20) % 15]
                ELSE (:se_last ::text[])[1 + (i / 20) % 15] END AS last,
           CASE WHEN i % 3 <> 0 THEN 'da' ELSE 'sv' END AS language
       ) AS n
       CROSS JOIN LATERAL (
         SELECT n.*, lower(translate(n.first || '.' || n.last, 'æøåäöéÆØÅÄÖ', 'eoaaoeEOAAO'))
           || '.' || i || '@' || CASE WHEN n.danish THEN 'post.dk' ELSE 'mejl.se' END AS email
       ) AS p""",
    """INSERT INTO subscriptions (subscriber_id, list_id, status, requested_at, confirmed_at,
         unsubscribed_at)
       SELECT i, 1,
         CASE WHEN i % 21 <> 0 OR i % 63 = 42 THEN 'confirmed'
              WHEN i % 63 = 0 THEN 'pending' ELSE 'unsubscribed' END,
         now() - make_interval(days => i % 1000),
         CASE WHEN i % 21 = 0 AND i % 63 = 0 THEN NULL ELSE now() END,
         CASE WHEN i % 63 = 21 THEN now() END
       FROM generate_series(1, :total) AS i""",
]


def _total(recipients: int) -> int:
    """Subscribers to create so that ``recipients`` of them are in the audience (i % 21 > 0)."""
    return recipients + (recipients - 1) // 20 if recipients else 0


async def build(engine: AsyncEngine, recipients: int) -> float:
    """The audience, in SQL; the seconds it took (VACUUM ANALYZE included)."""
    started = time.perf_counter()
    danish = [m.id for m in MUNICIPALITIES if m.country == "DK"]
    swedish = [m.id for m in MUNICIPALITIES if m.country == "SE"]
    values = {
        "total": _total(recipients),
        "dk": danish,
        "dk_n": len(danish),
        "se": swedish,
        "se_n": len(swedish),
        "dk_first": list(DANISH_FIRST),
        "dk_last": list(DANISH_LAST),
        "se_first": list(SWEDISH_FIRST),
        "se_last": list(SWEDISH_LAST),
    }
    async with engine.begin() as conn:
        await conn.execute(sa.text("SET LOCAL maintenance_work_mem = '256MB'"))
        # Indexes built once over the loaded rows, not row by row: minutes less at 1M.
        rebuild = await _drop_secondary_indexes(conn, ("subscribers", "subscriptions"))
        for statement in _SEED:
            await conn.execute(sa.text(statement), values)
        for statement in rebuild:
            await conn.execute(sa.text(statement))
    await _vacuum(engine)
    return time.perf_counter() - started


# Unique and foreign-key constraints, then plain indexes (primary keys stay): what drops them
# and what makes them again, in the order each is needed.
_SECONDARY = """
SELECT 1 AS step, format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
  format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
         pg_get_constraintdef(oid)),
  contype = 'f' AS last
FROM pg_constraint
WHERE conrelid = ANY(CAST(:tables AS regclass[])) AND contype IN ('u', 'f')
UNION ALL
SELECT 2, format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid), false
FROM pg_index i
WHERE i.indrelid = ANY(CAST(:tables AS regclass[])) AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1, 4 DESC
"""


async def _drop_secondary_indexes(conn: AsyncConnection, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' unique and foreign-key constraints and other indexes; return the
    statements that make them again (foreign keys last)."""
    rows = (await conn.execute(sa.text(_SECONDARY), {"tables": list(tables)})).all()
    for row in rows:
        await conn.execute(sa.text(row[1]))
    return [row[2] for row in rows if not row[3]] + [row[2] for row in rows if row[3]]


async def _vacuum(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE"))


async def new_campaign(engine: AsyncEngine, *, segment: bool) -> int:
    """A campaign to the list ``kultur`` (with ``segment``: to a saved segment instead, the
    residents of a Danish or Swedish municipality, which is the same people)."""
    async with engine.begin() as conn:
        campaign_id = int(
            (
                await conn.execute(
                    sa.text(
                        """INSERT INTO campaigns (subject, body, status, created_at, updated_at,
                             send_requested_at, track_opens)
                           VALUES (:subject, :body, 'sending', now(), now(), now(), false)
                           RETURNING id"""
                    ),
                    {"subject": SUBJECT, "body": BODY},
                )
            ).scalar_one()
        )
        if not segment:
            await conn.execute(
                sa.text("INSERT INTO campaign_lists (campaign_id, list_id) VALUES (:c, 1)"),
                {"c": campaign_id},
            )
            return campaign_id
        rules = {
            "type": "group",
            "match": "all",
            "rules": [
                {"type": "condition", "field": "country", "op": "any_of", "value": ["DK", "SE"]}
            ],
        }
        segment_id = (
            await conn.execute(
                sa.text(
                    """INSERT INTO segments (name, rules, created_by, created_at, updated_by,
                         updated_at)
                       VALUES (:name, :rules, 'bench', now(), 'bench', now()) RETURNING id"""
                ),
                {"name": f"region {campaign_id}", "rules": msgspec.json.encode(rules).decode()},
            )
        ).scalar_one()
        await conn.execute(
            sa.text("INSERT INTO campaign_segments (campaign_id, segment_id) VALUES (:c, :s)"),
            {"c": campaign_id, "s": segment_id},
        )
    return campaign_id


async def reset_ledger(engine: AsyncEngine) -> None:
    """For --reuse: no earlier campaign, ledger or run left (the audience is kept)."""
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "TRUNCATE deliveries, campaign_runs, campaign_links, campaign_lists,"
                " campaign_segments, segments, campaigns RESTART IDENTITY CASCADE"
            )
        )
    await _vacuum(engine)


def _cpu_or_zero(pid: int) -> float:
    # A process gone meanwhile (a backend that disconnected) has used nothing more.
    return cpu_seconds(pid) or 0.0


async def _backends(engine: AsyncEngine) -> dict[int, float]:
    """CPU seconds so far of every client backend connected to this database (autovacuum,
    the WAL writer and the checkpointer are left out: they serve every database)."""
    async with engine.connect() as conn:
        pids = (
            await conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                )
            )
        ).scalars()
        return {int(pid): _cpu_or_zero(int(pid)) for pid in pids}


class RedisSampler:
    """Samples Redis ``used_memory`` every 50 ms while it runs; keeps the highest."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.baseline = 0
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the baseline and start sampling."""
        self.baseline = self.peak = await self._used()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Take one last sample and stop."""
        if self._task is not None:
            self._task.cancel()
        self.peak = max(self.peak, await self._used())

    async def _used(self) -> int:
        return int((await self.redis.info("memory"))["used_memory"])

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, await self._used())
            await asyncio.sleep(0.05)


async def fan_out(
    args: argparse.Namespace, engine: AsyncEngine, campaign_id: int
) -> dict[str, Any]:
    """Run the mailer processes on the campaign; time the enqueue until the fan-out's end."""
    sink_port = free_port()
    sink = await asyncio.create_subprocess_exec(
        shutil.which("smtp-sink") or "/usr/sbin/smtp-sink", "-u", "nobody",
        f"127.0.0.1:{sink_port}", "1000",
    )  # fmt: skip
    env = {
        **os.environ,
        "BREVDUE_DATABASE_URL": args.database_url,
        "BREVDUE_REDIS_URL": args.redis_url,
        "BREVDUE_SMTP_URL": f"smtp://127.0.0.1:{sink_port}?starttls=off",
        "BREVDUE_SECRET_KEYS": SECRET,
        "BREVDUE_MAIL_FROM": MAIL_FROM,
        "BREVDUE_SUBSCRIPTIONS_PUBLIC_URL": "https://tilmeld.kultur.example",
        "BREVDUE_LOG_LEVEL": "WARNING",
        "BREVDUE_LOG_FORMAT": "json",
        # Delivery held to one message a second over all processes: the batch jobs wait.
        "BREVDUE_MAILER_RATE_LIMIT": "1",
        # The held batch jobs need not finish once the run is measured.
        "BREVDUE_MAILER_SHUTDOWN_GRACE": "1",
    }
    redis = Redis.from_url(args.redis_url)
    await redis.flushdb()
    workers = [
        await asyncio.create_subprocess_exec(sys.executable, "-m", "services.mailer", env=env)
        for _ in range(args.processes)
    ]
    sampler = RedisSampler(redis)
    try:
        for _ in range(600):  # the workers record their health once they poll
            if await redis.exists(HEALTH_CHECK_KEY_BULK):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # every process started, the reconciler's first run done
        pool = await create_job_pool(args.redis_url, BULK_QUEUE)
        await sampler.start()
        cpu_before = [_cpu_or_zero(worker.pid) for worker in workers]
        backends_before = await _backends(engine)
        started = time.perf_counter()
        await enqueue(pool, START_CAMPAIGN, StartCampaign(campaign_id=campaign_id))
        await pool.aclose()
        async with engine.connect() as conn:
            while True:
                await asyncio.sleep(0.05)
                done = (
                    await conn.execute(
                        sa.text(
                            "SELECT fanned_out_at IS NOT NULL, recipients FROM campaign_runs"
                            " WHERE campaign_id = :c"
                        ),
                        {"c": campaign_id},
                    )
                ).first()
                await conn.rollback()  # a fresh snapshot for the next look
                if done is not None and done[0]:
                    break
        elapsed = time.perf_counter() - started
        cpu = [round(_cpu_or_zero(w.pid) - b, 2) for w, b in zip(workers, cpu_before, strict=True)]
        backends_after = await _backends(engine)
        await sampler.stop()
        postgres_cpu = sum(
            after - backends_before.get(pid, 0.0) for pid, after in backends_after.items()
        )
        rss = [round(peak_rss_mb(worker.pid), 1) for worker in workers]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            await worker.wait()
        sink.send_signal(signal.SIGTERM)
        await sink.wait()
    try:
        ledger_rows, jobs, unnamed = await _check(engine, redis, campaign_id)
    finally:
        await redis.aclose()
    return {
        "fan_out_s": round(elapsed, 2),
        "recipients": int(done[1]),
        "ledger_rows": ledger_rows,
        "batch_jobs": jobs,
        "rows_without_job": unnamed,
        "mailer_cpu_s": cpu,
        "postgres_cpu_s": round(postgres_cpu, 2),
        "mailer_peak_rss_mb": rss,
        "redis_used_memory_mb": {
            "before": round(sampler.baseline / 2**20, 1),
            "peak": round(sampler.peak / 2**20, 1),
        },
    }


async def _check(engine: AsyncEngine, redis: Redis, campaign_id: int) -> tuple[int, int, int]:
    """(ledger rows, deliver_batch jobs in Redis, ledger rows no job names).

    Job ids go into a bitmap over the ledger's ids, so the check needs a few MB at 1M rows.
    """
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    "SELECT count(*), coalesce(max(id), 0) FROM deliveries WHERE campaign_id = :c"
                ),
                {"c": campaign_id},
            )
        ).one()
    rows, highest = int(row[0]), int(row[1])
    named = bytearray(highest + 1)
    jobs = 0
    async for key in redis.scan_iter(match=f"arq:job:campaign:{campaign_id}:batch:*", count=1000):
        raw = await redis.get(key)
        if raw is None:
            continue
        job = deserialize_job(raw)
        if job.get("f") != DELIVER_BATCH.name:
            continue
        jobs += 1
        for delivery_id in DELIVER_BATCH.decode(job["a"][0]).delivery_ids:
            if delivery_id <= highest:
                named[delivery_id] = 1
    unnamed = 0
    async with engine.connect() as conn:
        result = await conn.stream(
            sa.text("SELECT id FROM deliveries WHERE campaign_id = :c"), {"c": campaign_id}
        )
        async for (delivery_id,) in result:
            unnamed += not named[delivery_id]
    return rows, jobs, unnamed


# The reference: the same ledger rows, as one statement, with the Message-IDs the mailer makes
# (services/mailer/mime.py: campaign_message_id) computed by PostgreSQL.
_REFERENCE = """
INSERT INTO deliveries (campaign_id, subscriber_id, status, attempts, message_id, queued_at,
  updated_at)
SELECT :c, s.id, 'queued', 0,
  :head || s.id || '.' || left(encode(sha256(convert_to(:key || s.id, 'UTF8')), 'hex'), 16)
    || :tail,
  now(), now()
FROM subscribers s
WHERE s.status = 'active'
  AND EXISTS (SELECT 1 FROM subscriptions m WHERE m.subscriber_id = s.id AND m.list_id = 1
              AND m.status = 'confirmed')
ORDER BY s.id
"""


async def reference(engine: AsyncEngine) -> dict[str, Any]:
    """One bare INSERT … SELECT of the same rows under another campaign, rolled back."""
    campaign_id = await new_campaign(engine, segment=False)
    async with engine.connect() as conn:
        backend = int((await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())
        await conn.rollback()
        transaction = await conn.begin()
        cpu = _cpu_or_zero(backend)
        started = time.perf_counter()
        values = {
            "c": campaign_id,
            "head": f"<c{campaign_id}.s",
            "key": f"{campaign_id}:",
            "tail": f"@{DOMAIN}>",
        }
        result = await conn.execute(sa.text(_REFERENCE), values)
        elapsed = time.perf_counter() - started
        cpu = _cpu_or_zero(backend) - cpu
        await transaction.rollback()
    async with engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM campaigns WHERE id = :c"), {"c": campaign_id})
    return {
        "reference_s": round(elapsed, 2),
        "reference_rows": int(result.rowcount),
        # The backend's CPU time: unlike seconds, hardly moved by other work on the machine.
        "reference_postgres_cpu_s": round(cpu, 2),
    }


def _self_peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build (or reuse) the audience, fan out, run the reference; the figures and settings."""
    await fresh_postgres_database(args.database_url, keep=args.reuse)
    await asyncio.to_thread(upgrade, args.database_url)
    engine = create_engine(args.database_url)
    try:
        async with engine.connect() as conn:
            existing = int(
                (await conn.execute(sa.text("SELECT count(*) FROM subscribers"))).scalar_one()
            )
        built = None
        if existing != _total(args.recipients):
            if existing:
                raise SystemExit(f"--reuse: the database holds {existing} subscribers, not these")
            print(f"building {args.recipients:,} recipients …", flush=True)
            built = await build(engine, args.recipients)
            print(f"  built in {built:.1f} s", flush=True)
        else:
            await reset_ledger(engine)
        campaign_id = await new_campaign(engine, segment=args.segment)
        print(f"fan-out by {args.processes} mailer process(es) …", flush=True)
        figures = await fan_out(args, engine, campaign_id)
        print(f"  {figures['fan_out_s']} s", flush=True)
        print("reference: one INSERT … SELECT of the same rows …", flush=True)
        figures.update(await reference(engine))
    finally:
        await engine.dispose()
    figures["seed_s"] = None if built is None else round(built, 1)
    figures["bench_peak_rss_mb"] = _self_peak_rss_mb()
    figures["ratio_to_reference"] = round(figures["fan_out_s"] / figures["reference_s"], 2)
    figures["postgres_cpu_ratio_to_reference"] = round(
        figures["postgres_cpu_s"] / max(figures["reference_postgres_cpu_s"], 0.01), 2
    )
    return figures, {"built": built is not None}


def main() -> None:
    """Parse options, run, print and record the figures."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--segment", action="store_true", help="a saved segment, not a list")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a database already built for this size"
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the fan-out benchmark runs on PostgreSQL")
    settings = {
        "recipients": args.recipients,
        "processes": args.processes,
        "audience": "segment" if args.segment else "list",
        "database": "postgresql",
        "redis_url": args.redis_url,
        "mailer_rate_limit": 1,
        **{
            key.removeprefix("BREVDUE_MAILER_").lower(): value
            for key, value in os.environ.items()
            if key.startswith("BREVDUE_MAILER_")
        },
    }
    header = describe_run("fanout", settings)
    figures, _ = asyncio.run(run(args))
    print(
        f"\nfan-out {figures['fan_out_s']} s for {figures['ledger_rows']:,} rows in "
        f"{figures['batch_jobs']:,} jobs ({figures['rows_without_job']} rows without a job) | "
        f"reference {figures['reference_s']} s | × {figures['ratio_to_reference']} | "
        f"mailer CPU {sum(figures['mailer_cpu_s']):.1f} s, PostgreSQL CPU "
        f"{figures['postgres_cpu_s']} s (reference {figures['reference_postgres_cpu_s']} s, "
        f"× {figures['postgres_cpu_ratio_to_reference']}) | peak RSS "
        + ", ".join(f"{mb:.0f} MB" for mb in figures["mailer_peak_rss_mb"])
        + f" (this process {figures['bench_peak_rss_mb']:.0f} MB) | Redis "
        f"{figures['redis_used_memory_mb']['before']} → "
        f"{figures['redis_used_memory_mb']['peak']} MB"
    )
    rss = max([*figures["mailer_peak_rss_mb"], figures["bench_peak_rss_mb"]])
    audience = "segment" if args.segment else "list"
    write_result(
        header,
        f"postgresql, {args.recipients} recipients, {audience}, {args.processes} processes",
        figures,
        {
            "fan-out s": figures["fan_out_s"],
            "reference s": figures["reference_s"],
            "× reference": figures["ratio_to_reference"],
            "peak RSS MB": rss,
            "Redis MB": figures["redis_used_memory_mb"]["peak"],
        },
        name_suffix=str(args.recipients),
    )


if __name__ == "__main__":
    main()
