"""CPU time per message of the mailer's two SMTP clients, each sending to Postfix's smtp-sink.

    python -m bench.smtp_clients [--messages 20000] [--connections 4] [--rounds 3]

Sends the same pre-built ~6 KB message ``--messages`` times through ``SmtpPool`` (the
interface the mailer uses), ``--connections`` sends at a time, once over aiosmtplib (the
reference) and once over the pipelining client (``WireConnection``), in alternating rounds;
nothing else is in the loop (no rendering, no database). Prints CPU µs per message of this
process (``time.process_time``: other work on a shared machine disturbs it far less than the
wall clock), msg/s, and the ratio of the pipelining client to aiosmtplib; the best round of
each counts. The sink's own counters (``smtp-sink -c``) are read back to check that every
message arrived. Writes ``bench/results/smtp_clients-<time>-<messages>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import signal
import sys
import time
from typing import Any

from bench.record import describe_run, write_result
from brevdue_cli.redis_server import free_port
from services.mailer.smtp_pool import SmtpPool
from shared.settings import SmtpSettings

SENDER = "nyhedsbrev@kultur.test"
_COUNTERS = re.compile(rb"mesg=(\d+)")


def message(size: int = 6000) -> bytes:
    """A campaign-like message: CRLF lines, quoted-printable body, one line starting with '.'."""
    head = (
        b"From: KulturMetropol <nyhedsbrev@kultur.test>\r\nTo: <reader@example.org>\r\n"
        b"Subject: Ugens program\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"List-Unsubscribe: <https://subscriptions.kultur.test/u/abcdefghijklmnopqrstuvwxyz>\r\n"
        b"\r\n"
    )
    line = b"Koncert i parken l=C3=B8rdag kl. 14, gratis adgang for alle medlemmer af forening=\r\n"
    body = bytearray()
    while len(head) + len(body) < size:
        body += line
    return head + bytes(body) + b".end of programme\r\n"


async def _one_round(port: int, messages: int, connections: int, pipelining: bool) -> float:
    relay = SmtpSettings("127.0.0.1", port, timeout=30, start_tls="off")
    pool = SmtpPool(relay, connections, local_hostname="bench.test", pipelining=pipelining)
    payload = message()
    per_worker = messages // connections

    async def worker(n: int) -> None:
        for i in range(per_worker):
            await pool.send(SENDER, [f"r{n}.{i}@example.org"], payload)

    await pool.send(SENDER, ["warm@example.org"], payload)  # connections are not measured
    started = time.process_time()
    await asyncio.gather(*(worker(n) for n in range(connections)))
    spent = time.process_time() - started
    await pool.close()
    return spent / (per_worker * connections)


async def _sink_count(output: bytearray) -> int:
    found = _COUNTERS.findall(bytes(output))
    return int(found[-1]) if found else 0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start smtp-sink, run the rounds, return the figures."""
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    sink = await asyncio.create_subprocess_exec(
        binary, "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output = bytearray()

    async def collect() -> None:
        assert sink.stdout is not None
        while chunk := await sink.stdout.read(4096):
            output.extend(chunk)

    reader = asyncio.create_task(collect())
    await asyncio.sleep(0.3)
    rounds: dict[str, list[float]] = {"aiosmtplib": [], "pipelining": []}
    wall: dict[str, list[float]] = {"aiosmtplib": [], "pipelining": []}
    per_round = (args.messages // args.connections) * args.connections + 1
    try:
        for _ in range(args.rounds):
            for name, pipelining in (("aiosmtplib", False), ("pipelining", True)):
                started = time.perf_counter()
                cpu = await _one_round(port, args.messages, args.connections, pipelining)
                elapsed = time.perf_counter() - started
                rounds[name].append(cpu * 1e6)
                wall[name].append(per_round / elapsed)
                print(f"  {name:10} {cpu * 1e6:7.1f} CPU µs/msg  {per_round / elapsed:8,.0f} msg/s")
        await asyncio.sleep(0.3)  # the sink prints its counters when a session ends
    finally:
        sink.send_signal(signal.SIGTERM)
        await sink.wait()
        await reader
    arrived = await _sink_count(output)
    expected = per_round * 2 * args.rounds
    if arrived != expected:
        print(f"smtp-sink counted {arrived} messages, {expected} were sent", file=sys.stderr)
        raise SystemExit(1)
    best = {name: min(values) for name, values in rounds.items()}
    return {
        "cpu_us_per_message": rounds,
        "msgs_per_s": wall,
        "best_cpu_us_per_message": best,
        "sink_counted": arrived,
        "ratio": best["pipelining"] / best["aiosmtplib"],
    }


def main() -> None:
    """Parse the options, run, print and write the result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = {"messages": args.messages, "connections": args.connections, "rounds": args.rounds}
    header = describe_run("smtp_clients", settings)
    figures = asyncio.run(run(args))
    best = figures["best_cpu_us_per_message"]
    print(
        f"best CPU µs/msg: aiosmtplib {best['aiosmtplib']:.1f}, pipelining "
        f"{best['pipelining']:.1f} (ratio {figures['ratio']:.3f}); smtp-sink counted "
        f"{figures['sink_counted']} messages"
    )
    write_result(
        header,
        f"smtp-sink, {args.connections} connections",
        figures,
        {
            "aiosmtplib_cpu_us_per_msg": round(best["aiosmtplib"], 1),
            "pipelining_cpu_us_per_msg": round(best["pipelining"], 1),
            "ratio": round(figures["ratio"], 3),
        },
        name_suffix=str(args.messages),
    )


if __name__ == "__main__":
    main()
