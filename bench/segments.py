"""Segment count benchmark: typical segments counted over a large audience on PostgreSQL.

    python -m bench.segments [--subscribers 1000000] [--runs 7] [--database-url URL] [--reuse]

Builds the audience in SQL (generate_series: subscribers with language, municipality, member
site, sign-up date and custom values; subscriptions on three lists; clicks in ten campaigns; a
few bounces), then times the count of each segment as the staff app asks for it (the rules of
shared.segments compiled to one statement, restricted to eligible residents) beside a reference
in the same run: a plain count of confirmed subscriptions. Prints median, min and max of the
runs with each plan's top nodes, and writes the figures to bench/results/segments-<time>-<n>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.record import describe_run, fresh_postgres_database, write_result
from shared.db import create_engine
from shared.migrate import upgrade
from shared.municipalities import MUNICIPALITIES
from shared.schema import subscribers, subscriptions
from shared.segment_sql import Context, members
from shared.segments import Group, from_builtins

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_segments"


def _rule(field: str, op: str, value: object = None) -> dict[str, Any]:
    return {"type": "condition", "field": field, "op": op, "value": value}


def _group(match: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"type": "group", "match": match, "rules": list(rules)}


SEGMENTS: dict[str, dict[str, Any]] = {
    "everyone eligible": _group("all"),
    "list kultur": _group("all", _rule("list", "any_of", ["kultur"])),
    "country SE": _group("all", _rule("country", "any_of", ["SE"])),
    "municipality København": _group("all", _rule("municipality", "any_of", ["dk-koebenhavn"])),
    "signed up in the last 30 days": _group("all", _rule("signed_up", "in_last_days", 30)),
    "clicked in the last 3 campaigns": _group("all", _rule("clicked", "in_last_campaigns", 3)),
    "custom age > 60": _group("all", _rule("custom.age", "greater_than", 60)),
    "DK and (sv or never clicked) and not on idraet": _group(
        "all",
        _rule("country", "any_of", ["DK"]),
        _group("any", _rule("language", "any_of", ["sv"]), _rule("clicked", "never")),
        _group("none", _rule("list", "any_of", ["idraet"])),
    ),
}

# One statement per table, all in SQL: a million rows in seconds, no client round trips.
_SEED = [
    """INSERT INTO mailing_lists (slug, name_da, name_sv, name_en, description_da,
         description_sv, description_en, is_public, double_optin, created_at)
       SELECT s, s, s, s, '', '', '', true, true, now()
       FROM unnest(ARRAY['kultur', 'idraet', 'boern-unge']) AS s""",
    """INSERT INTO member_sites (key, name, country, allowed_origins, default_lists,
         default_language, created_at, require_proof_of_work)
       SELECT 'site-' || i, 'Site ' || i, 'DK', '[]', '[]', 'da', now(), false
       FROM generate_series(1, 5) AS i""",
    # confirmed_lists: what the subscriptions service keeps, from the subscriptions below
    # (list 1 confirmed unless i % 10 = 0, list 2 for i % 3 = 0, list 3 for i % 10 = 0).
    """INSERT INTO subscribers (id, key, email, email_key, name, language, status,
         source_site_id, created_at, updated_at, municipality, custom_values, confirmed_lists)
       SELECT i, md5(i::text), 'r' || i || '@bench.example', 'r' || i || '@bench.example',
         'Resident ' || i, (ARRAY['da', 'sv', 'en'])[1 + i % 3],
         CASE WHEN i % 200 = 0 THEN 'bounced' ELSE 'active' END,
         CASE WHEN i % 7 = 0 THEN NULL ELSE 1 + i % 5 END,
         now() - make_interval(days => i % 1000), now(),
         CASE WHEN i % 140 >= :municipalities THEN NULL
              ELSE (:ids ::text[])[1 + i % 140] END,
         json_build_object('age', i % 90, 'member', i % 2 = 0),
         (CASE WHEN i % 10 = 0 THEN 0 ELSE 1 END)
           + (CASE WHEN i >= 3 AND i % 3 = 0 THEN 1 ELSE 0 END)
           + (CASE WHEN i >= 10 AND i % 10 = 0 THEN 1 ELSE 0 END)
       FROM generate_series(1, :n) AS i""",
    """INSERT INTO subscriptions (subscriber_id, list_id, status, requested_at, confirmed_at)
       SELECT i, 1, CASE WHEN i % 10 = 0 THEN 'pending' ELSE 'confirmed' END,
         now() - make_interval(days => i % 1000),
         CASE WHEN i % 10 = 0 THEN NULL ELSE now() - make_interval(days => i % 900) END
       FROM generate_series(1, :n) AS i""",
    """INSERT INTO subscriptions (subscriber_id, list_id, status, requested_at, confirmed_at)
       SELECT i, 2, 'confirmed', now(), now() - make_interval(days => i % 400)
       FROM generate_series(3, :n, 3) AS i""",
    """INSERT INTO subscriptions (subscriber_id, list_id, status, requested_at, confirmed_at)
       SELECT i, 3, 'confirmed', now(), now() FROM generate_series(10, :n, 10) AS i""",
    """INSERT INTO campaigns (subject, body, status, created_at, updated_at, track_opens)
       SELECT 'Campaign ' || c, '<p>x</p>', 'sent', now(), now(), false
       FROM generate_series(1, 10) AS c""",
    """INSERT INTO campaign_runs (campaign_id, state, recipients, started_at)
       SELECT c, 'done', 0, now() - make_interval(days => 100 - c)
       FROM generate_series(1, 10) AS c""",
    """INSERT INTO campaign_links (campaign_id, url, position)
       SELECT c, 'https://kultur.example/', 0 FROM generate_series(1, 10) AS c""",
    """INSERT INTO link_clicks (link_id, subscriber_id, campaign_id, clicks, first_at, last_at)
       SELECT 1 + (i / 20) % 10, i, 1 + (i / 20) % 10, 1, now(), now()
       FROM generate_series(1, :n, 20) AS i""",
    """INSERT INTO deliveries (campaign_id, subscriber_id, status, attempts, message_id,
         queued_at, updated_at)
       SELECT 1, i, 'bounced', 1, '<' || i || '@bench.example>', now(), now()
       FROM generate_series(7, :n, 500) AS i""",
]


async def build(database_url: str, n: int) -> float:
    """A fresh database with the audience; the seconds it took."""
    await fresh_postgres_database(database_url)
    await asyncio.to_thread(upgrade, database_url)
    started = time.perf_counter()
    ids = [m.id for m in MUNICIPALITIES]
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        for statement in _SEED:
            await conn.execute(sa.text(statement), {"n": n, "ids": ids, "municipalities": len(ids)})
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE"))
    await engine.dispose()
    return time.perf_counter() - started


async def _timed(conn: AsyncConnection, statement: sa.Select[Any], runs: int) -> dict[str, Any]:
    await conn.execute(statement)  # warm the cache and the plan
    times: list[float] = []
    count = 0
    for _ in range(runs):
        started = time.perf_counter()
        count = int((await conn.execute(statement)).scalar_one())
        times.append((time.perf_counter() - started) * 1000)
    # The plan of the very statement timed, with its parameters as the driver sends them.
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
    plan = (await conn.exec_driver_sql("EXPLAIN " + str(compiled), parameters)).scalars()
    return {
        "count": count,
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
        "plan": [str(line) for line in plan],
    }


async def measure(database_url: str, runs: int) -> dict[str, Any]:
    """Each segment's count timed, beside the reference count."""
    engine = create_engine(database_url)
    results: dict[str, Any] = {}
    context = Context(now=datetime.now(UTC))
    async with engine.connect() as conn:
        # As the campaigns service counts (queries.segments.count_members).
        await conn.execute(sa.text("SET jit = off"))
        # As count_members: one plan per run, never the generic plan of a prepared statement.
        await conn.execute(sa.text("SET plan_cache_mode = force_custom_plan"))
        results["reference: count(*) of confirmed subscriptions"] = await _timed(
            conn,
            sa.select(sa.func.count())
            .select_from(subscriptions)
            .where(subscriptions.c.status == "confirmed"),
            runs,
        )
        for name, rules in SEGMENTS.items():
            group: Group = from_builtins(rules)
            statement = (
                sa.select(sa.func.count()).select_from(subscribers).where(members(group, context))
            )
            results[name] = await _timed(conn, statement, runs)
    await engine.dispose()
    return results


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, build (unless --reuse), measure, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--reuse", action="store_true", help="count in the database as it is")
    args = parser.parse_args(argv)
    header = describe_run(
        "segments",
        {
            "subscribers": args.subscribers,
            "runs": args.runs,
            "reuse": args.reuse,
            "database": make_url(args.database_url).render_as_string(hide_password=True),
        },
    )
    seeded = None if args.reuse else asyncio.run(build(args.database_url, args.subscribers))
    if seeded is not None:
        print(f"built {args.subscribers:,} subscribers in {seeded:.1f} s")
    results = asyncio.run(measure(args.database_url, args.runs))
    width = max(len(name) for name in results)
    print(f"{'segment':<{width}}  {'count':>9}  {'median':>8}  {'min':>8}  {'max':>8}")
    for name, figures in results.items():
        print(
            f"{name:<{width}}  {figures['count']:>9,}  {figures['median_ms']:>6} ms"
            f"  {figures['min_ms']:>6} ms  {figures['max_ms']:>6} ms"
        )
        print(f"{'':<{width}}  plan: {figures['plan'][0].strip()[:90]}")
    write_result(
        header,
        f"postgresql, {args.subscribers:,} subscribers",
        {"seed_seconds": seeded, "segments": results},
        {f"{name} ms": figures["median_ms"] for name, figures in results.items()},
    )


if __name__ == "__main__":
    main()
