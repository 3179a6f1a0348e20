"""Run every benchmark, then rewrite the report of every run in docs/benchmarks.md.

    python -m bench                          # every benchmark at full size, 3 runs each
    python -m bench --size small --runs 1    # a quick pass (results in a temporary folder)
    python -m bench --only delivery,http     # some of them

``make bench`` runs this; ``make bench BENCH_ARGS="--size small"`` the quick pass. Full-size runs
write to ``bench/results/`` and the report is rewritten after them; small runs go to a temporary
folder (unless ``--keep``) because they say nothing about speed. Each benchmark runs in its own
process, one after the other: a benchmark measures the machine, and two at once would measure
each other. PostgreSQL must be reachable (the benchmarks measure the production database); a
Redis server is started for the run when none answers at ``--redis-url``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import report
from brevdue_cli.redis_server import free_port, is_reachable, start_local_redis


@dataclass(frozen=True)
class Benchmark:
    """One benchmark module and its arguments at each size."""

    name: str
    full: tuple[str, ...]
    small: tuple[str, ...]
    needs_redis: bool = False
    needs: tuple[str, ...] = ()  # programs that must be on PATH (or in /usr/sbin)


BENCHMARKS = (
    Benchmark(
        "render", ("--messages", "2000", "--rounds", "5"), ("--messages", "20", "--rounds", "2")
    ),
    Benchmark(
        "delivery",
        ("--recipients", "100000", "--naive-recipients", "5000"),
        ("--recipients", "200", "--naive-recipients", "50", "--processes", "1"),
        needs_redis=True,
        needs=("smtp-sink",),
    ),
    Benchmark(
        "fanout",
        ("--recipients", "1000000", "--reuse"),
        ("--recipients", "500"),
        needs_redis=True,
        needs=("smtp-sink",),
    ),
    Benchmark(
        "segments",
        ("--subscribers", "1000000", "--runs", "5"),
        ("--subscribers", "2000", "--runs", "2"),
    ),
    Benchmark(
        "smtp_clients",
        ("--messages", "10000", "--rounds", "3"),
        ("--messages", "200", "--rounds", "1"),
        needs=("smtp-sink",),
    ),
    Benchmark(
        "http",
        ("--duration", "30", "--connections", "50,200,400"),
        ("--duration", "1", "--connections", "4", "--warmup", "0", "--min-duration", "0"),
        needs_redis=True,
        needs=("wrk",),
    ),
    Benchmark("imports", ("--rows", "100000", "--rounds", "1"), ("--rows", "300", "--rounds", "1")),
)

POSTGRES_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _have(program: str) -> bool:
    return shutil.which(program) is not None or Path("/usr/sbin", program).exists()


def _postgres_reachable(url: str) -> bool:
    import asyncio

    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    async def ping() -> bool:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False
        finally:
            await engine.dispose()

    return asyncio.run(ping())


def _run_all(
    chosen: list[Benchmark], runs: int, size: str, env: dict[str, str], redis_url: str
) -> list[str]:
    """Run each benchmark ``runs`` times in its own process; the runs that failed."""
    failed: list[str] = []
    total = len(chosen) * runs
    step = 0
    started = time.perf_counter()
    for benchmark in chosen:
        for run in range(1, runs + 1):
            step += 1
            command = [
                sys.executable,
                "-m",
                f"bench.{benchmark.name}",
                *(benchmark.full if size == "full" else benchmark.small),
            ]
            if benchmark.needs_redis:
                command += ["--redis-url", redis_url]
            elapsed = time.perf_counter() - started
            print(
                f"\n[{step}/{total}, {elapsed / 60:.1f} min] {benchmark.name}, run {run} of "
                f"{runs}: {' '.join(command[1:])}",
                flush=True,
            )
            if subprocess.run(command, env=env, check=False).returncode != 0:
                failed.append(f"{benchmark.name} (run {run})")
    return failed


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks ``--runs`` times each, then the report."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=("full", "small"), default="full")
    parser.add_argument("--runs", type=int, default=None, help="default: 3 (full), 1 (small)")
    parser.add_argument(
        "--only", default="", help="comma-separated names: " + ", ".join(b.name for b in BENCHMARKS)
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--keep", action="store_true", help="keep small runs in bench/results")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {b.name for b in BENCHMARKS}
    if unknown:
        parser.error(f"no benchmark named {', '.join(sorted(unknown))}")
    runs = args.runs or (3 if args.size == "full" else 1)

    if not _postgres_reachable(POSTGRES_DEFAULT):
        print(
            "PostgreSQL does not answer on 127.0.0.1:5432: the benchmarks measure it. Start it "
            "(e.g. pg_ctlcluster 15 main start) and run again."
        )
        return 2
    missing = sorted({p for b in chosen for p in b.needs if not _have(p)})
    if missing:
        print(
            f"missing programs: {', '.join(missing)} (Debian: apt-get install postfix wrk); "
            "the benchmarks that need them are skipped"
        )
        chosen = [b for b in chosen if not set(b.needs) & set(missing)]

    env = dict(os.environ)
    scratch = None
    if args.size == "small" and not args.keep:
        scratch = tempfile.mkdtemp(prefix="brevdue-bench-")
        env["BREVDUE_BENCH_RESULTS"] = scratch
    redis = None
    redis_url = args.redis_url
    if any(b.needs_redis for b in chosen) and not is_reachable(redis_url):
        redis = start_local_redis(None, free_port())
        redis_url = f"{redis.url}/12"
        print(f"started a Redis server for the run: {redis_url}")

    started = time.perf_counter()
    try:
        failed = _run_all(chosen, runs, args.size, env, redis_url)
    finally:
        if redis is not None:
            redis.stop()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    if scratch is None:
        report.main([])
    total = len(chosen) * runs
    print(
        f"\n{total - len(failed)} of {total} runs finished in "
        f"{(time.perf_counter() - started) / 60:.1f} min"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
