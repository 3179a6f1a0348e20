"""The SMTP pool against a real server: partial refusals, errors with codes, reconnects."""

from __future__ import annotations

import pytest

from brevdue_cli.redis_server import free_port
from services.mailer.errors import SmtpError
from services.mailer.smtp_pool import SmtpPool
from shared.settings import SmtpSettings
from tests.support.smtp import RecordingSMTPServer

MESSAGE = b"From: a@b.dk\r\nTo: c@d.dk\r\nSubject: s\r\n\r\nbody\r\n"


async def test_partial_refusal_and_errors(smtp_server: RecordingSMTPServer) -> None:
    smtp_server.handler.fail_rcpt["gone@d.dk"] = "550 5.1.1 no such user"
    smtp_server.handler.fail_rcpt["later@d.dk"] = "451 4.3.0 try later"
    pool = SmtpPool(SmtpSettings("127.0.0.1", smtp_server.port, timeout=5), 2)
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


async def test_reconnects_after_the_server_dropped_the_connection() -> None:
    port = free_port()
    first = RecordingSMTPServer(port)
    first.start()
    pool = SmtpPool(SmtpSettings("127.0.0.1", port, timeout=5), 1, idle_probe_after=0)
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
