"""Several relays: spread by weight, failover when one cannot be reached."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from brevdue_cli.redis_server import free_port
from services.mailer.config import MailerOptions
from services.mailer.errors import SmtpConnectError, SmtpError
from services.mailer.relays import Relay, RelayRouter, parse_relays
from services.mailer.smtp_pool import SmtpPool
from shared.errors import SettingsError
from shared.settings import SmtpSettings
from tests.support.smtp import RecordingSMTPServer

MESSAGE = b"From: a@b.dk\r\nTo: c@d.dk\r\nSubject: s\r\n\r\nbody\r\n"


@pytest.fixture
def servers() -> Iterator[list[RecordingSMTPServer]]:
    """Two recording relays (a test may stop one; it is not stopped twice)."""
    started = [RecordingSMTPServer(free_port()) for _ in range(2)]
    for server in started:
        server.start()
    yield started
    for server in started:
        with contextlib.suppress(Exception):
            server.stop()


def _router(ports: list[int], weights: list[int]) -> RelayRouter:
    return RelayRouter(
        [
            Relay(f"r{port}", weight, SmtpPool(SmtpSettings("127.0.0.1", port, timeout=2), 1))
            for port, weight in zip(ports, weights, strict=True)
        ],
        cooldown=60,
    )


async def test_weights_and_failover(servers: list[RecordingSMTPServer]) -> None:
    router = _router([s.port for s in servers], [3, 1])
    try:
        for _ in range(8):
            await router.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert [len(s.messages) for s in servers] == [6, 2]
        servers[0].stop()
        outcomes = []
        for _ in range(6):
            try:
                await router.send("a@b.dk", ["c@d.dk"], MESSAGE)
                outcomes.append("sent")
            except SmtpConnectError:
                outcomes.append("no relay")
            except SmtpError:
                # The pooled connection to the dropped relay fails once, not failed over: it
                # could have been mid-transaction. The reconnect is refused and fails over.
                outcomes.append("error")
        assert outcomes.count("error") <= 1 and "no relay" not in outcomes
        assert len(servers[1].messages) == 2 + outcomes.count("sent")
    finally:
        await router.close()


async def test_all_relays_down_raises_a_connect_error() -> None:
    router = _router([free_port(), free_port()], [1, 1])
    with pytest.raises(SmtpConnectError):
        await router.send("a@b.dk", ["c@d.dk"], MESSAGE)
    await router.close()


def test_relay_urls_are_parsed() -> None:
    [(first, three), (second, one)] = parse_relays(
        "smtp://a.example:2525?weight=3, smtps://user:pw@b.example"
    )
    assert (first.host, first.port, three) == ("a.example", 2525, 3)
    assert (second.use_tls, second.username, one) == (True, "user", 1)
    with pytest.raises(SettingsError, match="MAILER_RELAYS"):
        MailerOptions.from_env({"BREVDUE_MAILER_RELAYS": "http://nope"})
    with pytest.raises(SettingsError, match="MAILER_RELAYS"):
        parse_relays("smtp://a?weight=0")
