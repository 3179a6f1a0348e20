"""The SMTP pool against a real server: partial refusals, errors with codes, reconnects."""

from __future__ import annotations

import asyncio

import pytest

from brevdue_cli.redis_server import free_port
from services.mailer.errors import SmtpError
from services.mailer.smtp_pool import SmtpPool
from services.mailer.smtp_wire import WireConnection
from shared.settings import SmtpSettings
from tests.support.smtp import RecordingSMTPServer, SlowSMTPServer

MESSAGE = b"From: a@b.dk\r\nTo: c@d.dk\r\nSubject: s\r\n\r\nbody\r\n"


@pytest.fixture(params=[False, True], ids=["aiosmtplib", "wire"])
def pipelining(request: pytest.FixtureRequest) -> bool:
    """Run each pool test with both connection kinds."""
    return bool(request.param)


async def test_partial_refusal_and_errors(
    smtp_server: RecordingSMTPServer, pipelining: bool
) -> None:
    smtp_server.handler.fail_rcpt["gone@d.dk"] = "550 5.1.1 no such user"
    smtp_server.handler.fail_rcpt["later@d.dk"] = "451 4.3.0 try later"
    pool = SmtpPool(
        SmtpSettings("127.0.0.1", smtp_server.port, timeout=5), 2, pipelining=pipelining
    )
    try:
        result = await pool.send("a@b.dk", ["c@d.dk", "gone@d.dk"], MESSAGE)
        assert result.code == 250
        assert result.refused == {"gone@d.dk": (550, "5.1.1 no such user")}
        with pytest.raises(SmtpError) as refused:
            await pool.send("a@b.dk", ["gone@d.dk"], MESSAGE)
        assert (refused.value.code, refused.value.temporary) == (550, False)
        with pytest.raises(SmtpError) as later:
            await pool.send("a@b.dk", ["later@d.dk"], MESSAGE)
        assert (later.value.code, later.value.temporary) == (451, True)
        assert len(smtp_server.messages) == 1
    finally:
        await pool.close()


async def test_reconnects_after_the_server_dropped_the_connection(pipelining: bool) -> None:
    port = free_port()
    first = RecordingSMTPServer(port)
    first.start()
    pool = SmtpPool(
        SmtpSettings("127.0.0.1", port, timeout=5), 1, idle_probe_after=0, pipelining=pipelining
    )
    try:
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        first.stop()
        with pytest.raises(SmtpError) as down:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert down.value.temporary
        second = RecordingSMTPServer(port)
        second.start()
        try:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
            assert len(second.messages) == 1
        finally:
            second.stop()
    finally:
        await pool.close()


async def test_dots_and_a_connection_reused_after_a_refusal(
    smtp_server: RecordingSMTPServer, pipelining: bool
) -> None:
    smtp_server.handler.fail_rcpt["gone@d.dk"] = "550 5.1.1 no such user"
    pool = SmtpPool(
        SmtpSettings("127.0.0.1", smtp_server.port, timeout=5), 1, pipelining=pipelining
    )
    body = b"From: a@b.dk\r\nSubject: s\r\n\r\n.\r\n..two\r\nend"
    try:
        with pytest.raises(SmtpError):
            await pool.send("a@b.dk", ["gone@d.dk"], body)
        await pool.send("a@b.dk", ["c@d.dk"], body)
        await pool.send("a@b.dk", ["c@d.dk"], body)
    finally:
        await pool.close()
    assert [m.data for m in smtp_server.messages] == [body + b"\r\n"] * 2


async def test_pipelined_transactions(smtp_server: RecordingSMTPServer) -> None:
    # aiosmtpd reads commands line by line, so it copes with pipelining without offering it.
    smtp_server.handler.fail_rcpt["gone@d.dk"] = "550 5.1.1 no such user"
    smtp_server.handler.fail_rcpt["later@d.dk"] = "451 4.3.0 try later"
    connection = WireConnection(SmtpSettings("127.0.0.1", smtp_server.port, timeout=5), "x.dk")
    await connection.connect()
    connection.extensions.add("pipelining")
    try:
        code, _text, refused = await connection.send("a@b.dk", ["c@d.dk", "gone@d.dk"], MESSAGE)
        assert (code, refused) == (250, {"gone@d.dk": (550, "5.1.1 no such user")})
        for address, expected in (("gone@d.dk", (550, False)), ("later@d.dk", (451, True))):
            with pytest.raises(SmtpError) as failed:
                await connection.send("a@b.dk", [address], MESSAGE)
            assert (failed.value.code, failed.value.temporary) == expected
        await connection.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await connection.quit()
    assert [m.rcpt_tos for m in smtp_server.messages] == [["c@d.dk"], ["c@d.dk"]]


async def test_a_send_cancelled_mid_transaction_leaves_no_half_session(pipelining: bool) -> None:
    # A job timeout or a shutdown cancels a send while the relay holds its DATA: reusing that
    # session, the next MAIL was refused as "503 nested MAIL command", failing a resident for
    # good. The pool must close such a connection instead of lending it out again.
    server = SlowSMTPServer(free_port(), delay=0.5)
    server.start()
    pool = SmtpPool(SmtpSettings("127.0.0.1", server.port, timeout=5), 1, pipelining=pipelining)
    try:
        cut_off = asyncio.create_task(pool.send("a@b.dk", ["c@d.dk"], MESSAGE))
        await asyncio.sleep(0.2)
        cut_off.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cut_off
        result = await pool.send("a@b.dk", ["e@d.dk"], MESSAGE)
        assert result.code == 250
    finally:
        await pool.close()
        server.stop()
