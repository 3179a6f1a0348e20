"""Cost attacks over HTTP: hostile staff templates, deeply nested JSON, oversized and malformed
headers. Each is refused with a 4xx (or the connection is closed) within a bounded time, the
API keeps answering other callers meanwhile, and the process's memory stays bounded.

The figures (slowest refusal, slowest concurrent answer, memory growth) are printed with
``-s`` and recorded in docs/security-tests.md.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import statistics
import time

import pytest

from tests.campaigns.conftest import Api

CAMPAIGN = {"subject": "Hej", "body": "<p>Hej</p>", "lists": ["kultur"]}

HOSTILE_TEMPLATES = {
    "huge exponent": "{{ 7 ** 1000000000 }}",
    "exponent of an exponent": "{{ (9 ** 9) ** (9 ** 9) }}",
    "string multiplication": "{{ 'a' * 10**9 }}",
    "list multiplication": "{{ ([1] * 10**5) * 10**5 }}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(1) }}",
    "deep loops": "{% for a in range(10**4) %}{% for b in range(10**4) %}x{% endfor %}{% endfor %}",
    "format width": "{{ '%0999999999d' % 1 }}",
    "nested expression": "{{ " + "(" * 500 + "1" + ")" * 500 + " }}",
}
DEEP_JSON = {
    "objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "arrays": b"[" * 100_000 + b"]" * 100_000,
}
# Budgets with room for a busy shared machine; unbounded, most of these take minutes or
# exhaust memory.
REFUSAL_BUDGET = 5.0
RESPONSIVE_BUDGET = 3.0
MEMORY_BUDGET_MB = 200


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _raw_request(port: int, request: bytes) -> bytes:
    """Send bytes as they are (no client would send such headers) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(request)
        except OSError:
            return b""  # the server closed the connection while the request was sent
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
        return b"".join(chunks)


@pytest.mark.timing
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_costly_requests_are_refused_quickly_and_the_api_keeps_answering(
    api: Api,
) -> None:
    rss_before = _max_rss_mb()
    stop = asyncio.Event()
    bystander: list[float] = []

    async def other_caller() -> None:
        # A viewer reading lists throughout: the API must keep answering them.
        while not stop.is_set():
            started = time.perf_counter()
            response = await api.get("/api/lists")
            assert response.status_code == 200
            bystander.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)

    refusals: dict[str, float] = {}
    watcher = asyncio.create_task(other_caller())
    try:
        # The first template check starts the render workers (and their fork server).
        started = time.perf_counter()
        assert (await api.post("/api/campaigns", json=CAMPAIGN)).status_code == 201
        first_check = time.perf_counter() - started
        for name, template in HOSTILE_TEMPLATES.items():
            for field in ("subject", "body"):
                body = {**CAMPAIGN}
                started = time.perf_counter()
                response = await api.post("/api/campaigns", json={**body, field: template})
                refusals[f"template {name} ({field})"] = time.perf_counter() - started
                assert response.status_code == 422, (name, field, response.text)
                assert field in response.json()["errors"], (name, response.text)
        for name, raw in DEEP_JSON.items():
            started = time.perf_counter()
            response = await api.client.post(
                "/api/campaigns",
                content=raw,
                headers={**api.headers("editor"), "content-type": "application/json"},
            )
            refusals[f"nested JSON {name}"] = time.perf_counter() - started
            assert 400 <= response.status_code < 500, (name, response.status_code)

        port = int(str(api.client.base_url).rsplit(":", 1)[1].strip("/"))
        token = api.tokens["viewer"].encode()
        head = (
            b"GET /api/lists HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + token + b"\r\n"
        )
        raw_attacks = {
            "header of 1 MB": head + b"X-Big: " + b"a" * 1_000_000 + b"\r\n\r\n",
            "10,000 headers": head + b"".join(b"X-%d: a\r\n" % i for i in range(10_000)) + b"\r\n",
            "header without a colon": head + b"this is no header\r\n\r\n",
            "control bytes in a header": head + b"X-Bad: a\x00\x01\x7f\r\n\r\n",
            "request line of 1 MB": b"GET /"
            + b"a" * 1_000_000
            + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "malformed Authorization": head.replace(b"Bearer ", b"Bearer \xff\xfe ") + b"\r\n",
            "huge Content-Length": head + b"Content-Length: 99999999999999999999\r\n\r\n",
        }
        for name, request in raw_attacks.items():
            started = time.perf_counter()
            answer = await asyncio.to_thread(_raw_request, port, request)
            refusals[name] = time.perf_counter() - started
            status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
            assert status < 500, (name, answer[:300])
    finally:
        stop.set()
        await watcher

    grown = _max_rss_mb() - rss_before
    slowest = max(refusals, key=lambda name: refusals[name])
    print(
        f"\ncost attacks: first template check {first_check:.3f} s; {len(refusals)} refused,"
        f" slowest {slowest} in {refusals[slowest]:.3f} s;"
        f" other caller: {len(bystander)} answers, median {statistics.median(bystander):.3f} s,"
        f" slowest {max(bystander):.3f} s; peak memory grew {grown:.0f} MB"
    )
    assert refusals[slowest] < REFUSAL_BUDGET, refusals
    assert max(bystander) < RESPONSIVE_BUDGET, bystander
    assert len(bystander) >= 5
    assert grown < MEMORY_BUDGET_MB
