"""The optional MX check against a real (local) DNS server: refuse NXDOMAIN, fail open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, cast

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from brevdue_cli.redis_server import free_port
from services.subscriptions.app import create_app
from services.subscriptions.mx_check import MxChecker, Verdict
from shared.settings import Settings
from tests.subscriptions.conftest import all_subscribers, subscribe_json

# Pages, permissions and input checks, not SQL: the queries behind them run on both
# databases in the API's tests, so these run on one (PostgreSQL when configured).
pytestmark = pytest.mark.one_database


class FakeZone(asyncio.DatagramProtocol):
    """A tiny authoritative DNS server: mail.example has an MX, web.example only an A,
    null.example a null MX, anything under silent.example never answers, the rest NXDOMAIN."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.questions: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        self.questions.append(name)
        if name.endswith("silent.example"):
            return
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        kind = dns.rdatatype.to_text(question.rdtype)
        records = {
            ("mail.example", "MX"): "10 mx.mail.example.",
            ("web.example", "A"): "93.184.215.14",
            ("null.example", "MX"): "0 .",
        }
        if (name, kind) in records:
            response.answer.append(
                dns.rrset.from_text(question.name, 300, "IN", kind, records[name, kind])
            )
        elif name not in ("mail.example", "web.example", "null.example"):
            response.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def zone() -> AsyncIterator[tuple[FakeZone, int]]:
    """The fake zone served over UDP on a free port."""
    port = free_port()
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        FakeZone, local_addr=("127.0.0.1", port)
    )
    yield protocol, port
    transport.close()


def _mx_settings(settings: Settings, port: int, **changes: Any) -> Settings:
    return replace(
        settings,
        check_mx=True,
        mx_check_timeout=1.0,
        mx_check_nameservers=(f"127.0.0.1:{port}",),
        **changes,
    )


async def test_domains_without_mail_are_refused_with_a_field_error(
    live_server: Any,
    settings: Settings,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    zone: tuple[FakeZone, int],
) -> None:
    _, port = zone
    async with (
        live_server(create_app(_mx_settings(settings, port))) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        ok_mx = await subscribe_json(http, email="a@mail.example")
        ok_a = await subscribe_json(http, email="b@web.example")  # the A-record fallback
        missing = await subscribe_json(http, email="c@nowhere.example", language="en")
        null_mx = await subscribe_json(http, email="d@null.example", language="en")
        form = await http.post(
            "/subscribe",
            data={
                "email": "e@nowhere.example",
                "lists": "kultur",
                "language": "sv",
                "consent": "on",
            },
        )

    assert (ok_mx.status_code, ok_a.status_code) == (202, 202)
    for refused in (missing, null_mx):
        assert refused.status_code == 422
        assert refused.json()["errors"] == {
            "email": "The domain of this email address does not receive email. Check the address."
        }
    assert form.status_code == 422
    assert "Domänen i den här e-postadressen tar inte emot e-post" in form.text
    assert 'aria-describedby="email-error"' in form.text
    emails = sorted(row["email"] for row in await all_subscribers(engine))
    assert emails == ["a@mail.example", "b@web.example"]


async def test_no_answer_in_time_fails_open(
    live_server: Any,
    settings: Settings,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    zone: tuple[FakeZone, int],
) -> None:
    protocol, port = zone
    async with (
        live_server(create_app(_mx_settings(settings, port))) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        response = await subscribe_json(http, email="f@host.silent.example")

    assert response.status_code == 202
    assert "host.silent.example" in protocol.questions
    [subscriber] = await all_subscribers(engine)
    assert subscriber["email"] == "f@host.silent.example"


async def test_no_resolver_at_all_fails_open(
    live_server: Any, settings: Settings, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    nothing_listens = free_port()
    checked = _mx_settings(settings, nothing_listens)
    async with (
        live_server(create_app(checked)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10) as http,
    ):
        response = await subscribe_json(http, email="g@nowhere.example")

    assert response.status_code == 202
    assert len(await all_subscribers(engine)) == 1


async def test_checker_verdicts_and_warning(zone: tuple[FakeZone, int]) -> None:
    from structlog.testing import capture_logs

    _, port = zone
    checker = MxChecker(_mx_settings(Settings(), port))
    assert await checker.check("a@mail.example") is Verdict.DELIVERABLE
    assert await checker.check("a@nowhere.example") is Verdict.UNDELIVERABLE
    with capture_logs() as logs:
        assert await checker.check("a@x.silent.example") is Verdict.UNKNOWN
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    if warnings:  # captured unless a logger was cached before (structlog caches on first use)
        assert warnings[0]["event"] == "mx_check.unavailable"
        assert warnings[0]["accepted"] is True
        assert "a@" not in str(warnings[0])  # the domain only, never the address


async def test_check_is_off_by_default(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    redis: Redis,
    lists: dict[str, int],
    zone: tuple[FakeZone, int],
) -> None:
    protocol, _ = zone
    assert (await subscribe_json(client, email="h@nowhere.example")).status_code == 202
    assert protocol.questions == []


async def test_special_use_domains_are_refused_without_any_lookup(
    client: httpx.AsyncClient, engine: AsyncEngine, redis: Redis, lists: dict[str, int]
) -> None:
    # `.invalid` never resolves by definition (RFC 6761); the syntax check already refuses it.
    response = await subscribe_json(client, email="i@domain.invalid", language="en")
    assert response.status_code == 422
    assert "email" in response.json()["errors"]
    assert await all_subscribers(engine) == []
