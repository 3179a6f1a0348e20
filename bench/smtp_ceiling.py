"""The SMTP client's ceiling: pre-built campaign-size messages sent with aiosmtplib, nothing else.

    python -m bench.smtp_ceiling --port PORT --messages N [--connections 10]

One process of the delivery benchmark's reference (``bench.delivery`` starts as many of these
side by side as it starts mailer processes). It builds a few dozen ~6 KB messages of the
benchmark's campaign (the naive loop's own messages), opens ``--connections`` persistent
aiosmtplib connections, prints ``ready``, waits for a line on stdin, sends ``--messages`` of
them round-robin with ``sendmail()`` (no rendering, no database, no rate limit) and prints one
JSON line: messages sent, seconds and the CPU seconds the sending took.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiosmtplib

from bench.delivery import SECRET, naive_message, naive_templates
from shared.settings import Secret
from shared.tokens import TokenSigner

DISTINCT = 64  # messages built up front and sent round-robin; each ~6 KB, as the campaign's


async def send_all(port: int, count: int, connections: int) -> dict[str, float]:
    """Connect, report ready, wait for the go line, send ``count`` messages; return figures."""
    signer = TokenSigner((Secret(SECRET),))
    templates = naive_templates()
    messages = [naive_message(signer, templates, n) for n in range(DISTINCT)]
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(connections)]
    for client in clients:
        await client.connect()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    counter = iter(range(count))

    async def sender(client: aiosmtplib.SMTP) -> None:
        for n in counter:
            address, data = messages[n % DISTINCT]
            await client.sendmail("nyhedsbrev@kultur.example", [address], data)

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(sender(client) for client in clients))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    for client in clients:
        await client.quit()
    return {"sent": count, "seconds": seconds, "cpu_s": cpu}


def main() -> None:
    """Parse options, send, print the figures as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.smtp_ceiling", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    figures = asyncio.run(send_all(args.port, args.messages, args.connections))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
