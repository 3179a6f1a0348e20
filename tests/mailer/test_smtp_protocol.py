"""SMTP protocol conformance of both clients, through the pool the mailer sends with.

Every test runs with aiosmtplib (the default) and with the pipelining ``WireConnection``,
against real peers: aiosmtpd where a correct server is wanted, Postfix's smtp-sink for a
pipelined batch, and a scripted raw-socket server (``tests.support.scripted_smtp``) for
replies that are malformed, split byte by byte, pipelined together or stalled half-way.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import shutil
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from brevdue_cli.redis_server import free_port
from services.mailer.errors import SmtpConnectError, SmtpError, UnsendableMessageError
from services.mailer.smtp_pool import SmtpPool
from shared.settings import Secret, SmtpSettings
from tests.support.scripted_smtp import DEFAULT_EXTENSIONS, Script, ScriptedServer
from tests.support.smtp import RecordingHandler, RecordingSMTPServer

MESSAGE = b"From: a@b.dk\r\nTo: c@d.dk\r\nSubject: s\r\n\r\nbody\r\n"
SMUGGLED = b"MAIL FROM:<smuggled@evil.test>\r\nRCPT TO:<victim@kultur.test>\r\nDATA\r\nsmuggled\r\n"
PASSWORD = "wr0ng-s3cret"

Serve = Callable[[Script], Awaitable[ScriptedServer]]


@pytest.fixture(params=[False, True], ids=["aiosmtplib", "wire"])
def pipelining(request: pytest.FixtureRequest) -> bool:
    """Both connection kinds."""
    return bool(request.param)


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start scripted servers; all are stopped after the test."""
    servers: list[ScriptedServer] = []

    async def start(script: Script) -> ScriptedServer:
        server = ScriptedServer(script)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def _pool(port: int, pipelining: bool, **relay: Any) -> SmtpPool:
    settings = SmtpSettings("127.0.0.1", port, **{"timeout": 5.0, **relay})
    return SmtpPool(settings, 1, local_hostname="kultur.test", pipelining=pipelining)


def _bare_line_breaks(data: bytes) -> bool:
    pairs = data.count(b"\r\n")
    return data.count(b"\r") != pairs or data.count(b"\n") != pairs


# --- Dot-stuffing and line ends -----------------------------------------------------------

DOTTED = [
    b"Subject: s\r\n\r\n.\r\n..two\r\n.three\r\nend",  # no CRLF at the end
    b".starts-with-a-dot: x\r\n\r\nbody\r\n",
    b"Subject: s\r\n\r\nthe last line is a lone dot\r\n.",
    b"Subject: s\r\n\r\n",
]


@pytest.mark.parametrize("message", DOTTED, ids=["dot-lines", "first-byte", "last-dot", "empty"])
async def test_dot_stuffing_round_trip_through_aiosmtpd(
    smtp_server: RecordingSMTPServer, pipelining: bool, message: bytes
) -> None:
    pool = _pool(smtp_server.port, pipelining)
    try:
        await pool.send("a@b.dk", ["c@d.dk"], message)
    finally:
        await pool.close()
    expected = message if message.endswith(b"\r\n") else message + b"\r\n"
    assert [m.data for m in smtp_server.messages] == [expected]


async def test_dot_stuffing_on_the_wire(serve: Serve, pipelining: bool) -> None:
    server = await serve(Script())
    pool = _pool(server.port, pipelining)
    try:
        await pool.send("a@b.dk", ["c@d.dk"], b".x: y\r\n\r\n.\r\n..two\r\nend.")
    finally:
        await pool.close()
    assert server.messages == [b"..x: y\r\n\r\n..\r\n...two\r\nend.\r\n"]


async def test_bare_cr_and_lf_in_the_body_become_crlf(
    smtp_server: RecordingSMTPServer, pipelining: bool
) -> None:
    pool = _pool(smtp_server.port, pipelining)
    try:
        await pool.send("a@b.dk", ["c@d.dk"], b"Subject: s\r\n\r\none\ntwo\rthree\r\n\r\rfour\n")
    finally:
        await pool.close()
    expected = b"Subject: s\r\n\r\none\r\ntwo\r\nthree\r\n\r\n\r\nfour\r\n"
    assert [m.data for m in smtp_server.messages] == [expected]


SMUGGLING = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r.\r\n", b"\n..\n"]


@pytest.mark.parametrize("end", SMUGGLING, ids=[repr(e)[2:-1] for e in SMUGGLING])
async def test_a_bare_line_end_and_a_dot_never_end_data(
    serve: Serve, pipelining: bool, end: bytes
) -> None:
    # The relay here takes a bare LF as a line end (as many do): if the client let a bare LF
    # and a dot through, the rest of the body would be read as a second, smuggled transaction.
    server = await serve(Script(lenient_data=True))
    pool = _pool(server.port, pipelining)
    message = b"Subject: s\r\n\r\nhello" + end + SMUGGLED + b"bye\r\n"
    try:
        await pool.send("a@b.dk", ["c@d.dk"], message)
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    assert server.verbs().count("MAIL") == 2
    assert b"smuggled@evil.test" not in b"".join(server.commands)
    assert len(server.messages) == 2
    assert b"MAIL FROM:<smuggled@evil.test>" in server.unstuffed(0)
    assert not _bare_line_breaks(b"".join(server.reads))


HEADERS = [
    b"Subject: a\nBcc: x@evil.test\r\n\r\nbody\r\n",
    b"Subject: a\rBcc: x@evil.test\r\n\r\nbody\r\n",
    b"Subject: a\r\nX-Folded: a\n b\r\n\r\nbody\r\n",
    b"Subject: a\r\n\nBcc: x@evil.test\r\n\r\nbody\r\n",
    b"Subject: a\n\nbody\n",
]


@pytest.mark.parametrize("message", HEADERS, ids=["lf", "cr", "fold", "blank-lf", "lf-only"])
async def test_a_bare_cr_or_lf_in_the_header_section_is_refused(
    serve: Serve, pipelining: bool, message: bytes
) -> None:
    # Turned into CRLF it would become a header field of its own (header injection).
    server = await serve(Script())
    pool = _pool(server.port, pipelining)
    try:
        with pytest.raises(UnsendableMessageError) as refused:
            await pool.send("a@b.dk", ["c@d.dk"], message)
        assert (refused.value.code, refused.value.temporary) == (0, False)
        assert "bare CR or LF" in refused.value.message
        assert "MAIL" not in server.verbs()
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    assert (server.connections, len(server.messages)) == (1, 1)


# --- 8BITMIME and SMTPUTF8 ---------------------------------------------------------------

EIGHT_BIT = "Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBlåbærgrød\r\n".encode()


async def test_an_8bit_body_goes_with_body_8bitmime(serve: Serve, pipelining: bool) -> None:
    server = await serve(Script())
    pool = _pool(server.port, pipelining)
    try:
        await pool.send("a@b.dk", ["c@d.dk"], EIGHT_BIT)
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    mails = [line for line in server.commands if line.startswith(b"MAIL")]
    assert b"BODY=8BITMIME" in mails[0]
    assert b"BODY=" not in mails[1]  # 7-bit: no parameter
    assert server.messages[0] == EIGHT_BIT


async def test_an_8bit_body_arrives_intact_at_aiosmtpd(
    smtp_server: RecordingSMTPServer, pipelining: bool
) -> None:
    pool = _pool(smtp_server.port, pipelining)
    try:
        await pool.send("a@b.dk", ["c@d.dk"], EIGHT_BIT)
    finally:
        await pool.close()
    assert [m.data for m in smtp_server.messages] == [EIGHT_BIT]


async def test_an_8bit_body_is_refused_without_8bitmime(serve: Serve, pipelining: bool) -> None:
    # RFC 6152: 8-bit data only to a server that offers 8BITMIME; 7-bit mail still goes.
    server = await serve(Script(extensions=("PIPELINING",)))
    pool = _pool(server.port, pipelining)
    try:
        with pytest.raises(UnsendableMessageError) as refused:
            await pool.send("a@b.dk", ["c@d.dk"], EIGHT_BIT)
        assert "8BITMIME" in refused.value.message and not refused.value.temporary
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    assert server.verbs().count("MAIL") == 1
    assert server.connections == 1


def _aiosmtpd(**kwargs: Any) -> tuple[Controller, RecordingHandler]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller, handler


async def test_a_non_ascii_address_goes_with_smtputf8(pipelining: bool) -> None:
    controller, handler = _aiosmtpd(enable_SMTPUTF8=True, decode_data=False)
    pool = _pool(controller.port, pipelining)
    try:
        await pool.send("afsender@kultur.test", ["jørgen@kultur.test", "c@d.dk"], EIGHT_BIT)
    finally:
        await pool.close()
        controller.stop()
    assert [m.rcpt_tos for m in handler.messages] == [["jørgen@kultur.test", "c@d.dk"]]
    assert handler.messages[0].data == EIGHT_BIT


async def test_smtputf8_on_the_wire(serve: Serve, pipelining: bool) -> None:
    server = await serve(Script(extensions=(*DEFAULT_EXTENSIONS, "SMTPUTF8")))
    pool = _pool(server.port, pipelining)
    try:
        await pool.send("ærø@kultur.test", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    mail = next(line for line in server.commands if line.startswith(b"MAIL"))
    assert mail.startswith("MAIL FROM:<ærø@kultur.test>".encode())
    assert mail.rstrip().endswith(b"SMTPUTF8")


@pytest.mark.parametrize("sender,recipient", [("a@b.dk", "jørgen@kultur.test"),
                                              ("ærø@kultur.test", "c@d.dk")])  # fmt: skip
async def test_a_non_ascii_address_is_refused_without_smtputf8(
    pipelining: bool, sender: str, recipient: str
) -> None:
    controller, handler = _aiosmtpd(enable_SMTPUTF8=False, decode_data=False)
    pool = _pool(controller.port, pipelining)
    try:
        with pytest.raises(UnsendableMessageError) as refused:
            await pool.send(sender, [recipient], MESSAGE)
        assert "SMTPUTF8" in refused.value.message and not refused.value.temporary
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
        controller.stop()
    assert [m.rcpt_tos for m in handler.messages] == [["c@d.dk"]]


@pytest.mark.parametrize("address", ["c@d.dk>\r\nRCPT TO:<evil@x.test", "c@d.dk> NOTIFY=NEVER"])
async def test_an_address_that_would_break_the_command_is_refused(
    serve: Serve, pipelining: bool, address: str
) -> None:
    server = await serve(Script())
    pool = _pool(server.port, pipelining)
    try:
        with pytest.raises(UnsendableMessageError):
            await pool.send("a@b.dk", [address], MESSAGE)
    finally:
        await pool.close()
    assert "MAIL" not in server.verbs()


# --- Replies: multi-line, split, pipelined, malformed ---------------------------------------

MANY_LINES = ("SIZE 10240000", *(f"X-FILLER-{n} some words" for n in range(30)), "8BITMIME",
              "AUTH PLAIN LOGIN", "PIPELINING", "ENHANCEDSTATUSCODES")  # fmt: skip


async def test_multi_line_replies(serve: Serve, pipelining: bool) -> None:
    server = await serve(
        Script(
            extensions=MANY_LINES,
            replies={
                "MAIL": b"250-2.1.0 first\r\n250-2.1.0 second\r\n250 2.1.0 Ok\r\n",
                "DATA": b"354-go\r\n354 ahead\r\n",
                ".": b"250-2.0.0 queued\r\n250 2.0.0 as 12345\r\n",
            },
            refuse={"gone@d.dk": b"550-5.1.1 no such\r\n550 5.1.1 user here\r\n"},
        )
    )
    pool = _pool(server.port, pipelining)
    try:
        result = await pool.send("a@b.dk", ["c@d.dk", "gone@d.dk"], EIGHT_BIT)
        assert result.code == 250
        assert result.message == "2.0.0 queued\n2.0.0 as 12345"
        assert result.refused == {"gone@d.dk": (550, "5.1.1 no such\n5.1.1 user here")}
        with pytest.raises(SmtpError) as refused:
            await pool.send("a@b.dk", ["gone@d.dk"], MESSAGE)
        assert (refused.value.code, refused.value.message) == (
            550,
            "5.1.1 no such\n5.1.1 user here",
        )
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    assert b"BODY=8BITMIME" in next(line for line in server.commands if line.startswith(b"MAIL"))
    assert (server.connections, len(server.messages)) == (1, 2)


async def test_replies_split_byte_by_byte(serve: Serve, pipelining: bool) -> None:
    server = await serve(
        Script(byte_by_byte=True, refuse={"gone@d.dk": b"550-5.1.1 no\r\n550 5.1.1 such user\r\n"})
    )
    pool = _pool(server.port, pipelining)
    try:
        result = await pool.send("a@b.dk", ["c@d.dk", "gone@d.dk"], MESSAGE)
        assert result.refused == {"gone@d.dk": (550, "5.1.1 no\n5.1.1 such user")}
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    assert (server.connections, len(server.messages)) == (1, 2)


async def test_pipelined_replies_arriving_together(serve: Serve, pipelining: bool) -> None:
    # The server answers MAIL, RCPT, RCPT and DATA in one write when they came in one read.
    # Each failed transaction must consume exactly its replies, or the next one reads stale.
    server = await serve(
        Script(
            refuse={
                "gone@d.dk": b"550 5.1.1 no such user\r\n",
                "later@d.dk": b"451 4.3.0 later\r\n",
            }
        )
    )
    pool = _pool(server.port, pipelining)
    try:
        result = await pool.send("a@b.dk", ["c@d.dk", "gone@d.dk"], MESSAGE)
        assert result.refused == {"gone@d.dk": (550, "5.1.1 no such user")}
        with pytest.raises(SmtpError) as all_refused:
            await pool.send("a@b.dk", ["gone@d.dk", "later@d.dk"], MESSAGE)
        assert all_refused.value.code == 550
        result = await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert result.code == 250 and result.refused == {}
    finally:
        await pool.close()
    assert (server.connections, len(server.messages)) == (1, 2)
    if pipelining:
        together = [r for r in server.reads if r.startswith(b"MAIL") and r.endswith(b"DATA\r\n")]
        assert len(together) == 3


async def test_pipelined_refusal_of_mail_and_data(serve: Serve, pipelining: bool) -> None:
    server = await serve(
        Script(
            replies={"MAIL": b"451 4.3.0 sender later\r\n", "DATA": b"554 5.5.1 no valid rcpt\r\n"}
        )
    )
    pool = _pool(server.port, pipelining)
    try:
        with pytest.raises(SmtpError) as refused:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert (refused.value.code, refused.value.temporary) == (451, True)
    finally:
        await pool.close()
    assert server.messages == []


MALFORMED = {
    "garbage": ("MAIL", b"hello there\r\n"),
    "code-999": ("MAIL", b"999 what\r\n"),
    "code-199": (".", b"199 odd\r\n"),
    "too-short": ("RCPT", b"25\r\n"),
    "empty-line": ("DATA", b"\r\n"),
    "binary": ("DATA", b"\x00\xff\xfe\r\n"),
    "signed": ("MAIL", b"+25 plus\r\n"),
    "greeting": ("GREETING", b"hello\r\n"),
    "ehlo": ("EHLO", b"250-scripted.test\r\n250-PIPELINING\r\nxyz\r\n"),
}


@pytest.mark.parametrize("verb,reply", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_reply_fails_temporarily_and_the_connection_is_dropped(
    serve: Serve, pipelining: bool, verb: str, reply: bytes
) -> None:
    server = await serve(Script(replies={verb: reply}))
    pool = _pool(server.port, pipelining)
    try:
        with pytest.raises(SmtpError) as failed:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert (failed.value.code, failed.value.temporary) == (0, True)
        result = await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)  # on a new connection
        assert result.code == 250
    finally:
        await pool.close()
    assert server.connections == 2


async def test_a_missing_space_after_the_code_is_read_as_the_code(
    serve: Serve, pipelining: bool
) -> None:
    # Lenient, as smtplib is: RFC 5321 4.2 has a client act on the code alone.
    server = await serve(Script(replies={"MAIL": b"250ok\r\n", ".": b"250-2.0.0 a\r\n250b\r\n"}))
    pool = _pool(server.port, pipelining)
    try:
        result = await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    assert result.code == 250
    assert len(server.messages) == 1


async def test_a_relay_without_ehlo_gets_helo(serve: Serve, pipelining: bool) -> None:
    # RFC 5321 4.1.4: no extensions then, so 8-bit mail is refused and 7-bit mail goes.
    server = await serve(Script(replies={"EHLO": b"502 5.5.2 Error: command not recognized\r\n"}))
    pool = _pool(server.port, pipelining)
    try:
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        with pytest.raises(UnsendableMessageError):
            await pool.send("a@b.dk", ["c@d.dk"], EIGHT_BIT)
    finally:
        await pool.close()
    assert server.verbs()[:3] == ["EHLO", "HELO", "MAIL"]
    assert len(server.messages) == 1


# --- Timeouts mid-reply --------------------------------------------------------------------

STALLS = {
    "greeting": ("GREETING", b"220-scripted.test\r\n"),
    "ehlo": ("EHLO", b"250-scripted.test\r\n250-PIPEL"),
    "mail": ("MAIL", b"25"),
    "data": ("DATA", b"354 End"),
    "end-of-data": (".", b"250-2.0.0 queued\r\n"),
}


@pytest.mark.parametrize("verb,partial", STALLS.values(), ids=STALLS.keys())
async def test_a_server_stalling_mid_reply_fails_within_the_timeout(
    serve: Serve, pipelining: bool, verb: str, partial: bytes
) -> None:
    server = await serve(Script(replies={verb: partial}, stall={verb}))
    pool = _pool(server.port, pipelining, timeout=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(SmtpError) as failed:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert time.monotonic() - started < 1.5
        assert failed.value.temporary
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)  # not over the stalled connection
    finally:
        await pool.close()
    assert server.connections == 2


async def test_a_reply_trickling_in_line_by_line_is_bounded_by_the_timeout(
    serve: Serve, pipelining: bool
) -> None:
    # Every line arrives within the timeout, the whole reply does not.
    trickle = b"250-2.1.0 wait\r\n" * 20 + b"250 2.1.0 Ok\r\n"
    server = await serve(Script(replies={"MAIL": trickle}, line_pause=0.2))
    pool = _pool(server.port, pipelining, timeout=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(SmtpError) as failed:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert time.monotonic() - started < 3.0
        assert failed.value.temporary
    finally:
        await pool.close()


# --- STARTTLS and AUTH against a real TLS server --------------------------------------------


class _TlsRecordingHandler(RecordingHandler):
    """Records, per message, whether it came over TLS and which AUTH mechanism was used."""

    def __init__(self) -> None:
        super().__init__()
        self.over_tls: list[bool] = []
        self.mechanisms: list[str] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.over_tls.append(session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"mailer",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)


def _tls_server(context: ssl.SSLContext | None, **kwargs: Any) -> tuple[Controller, Any]:
    handler = _TlsRecordingHandler()
    if context is not None:
        kwargs["tls_context"] = context
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller, handler


@pytest.mark.parametrize("mode", ["required", "auto"])
async def test_starttls_offered_is_used(
    trusted: ssl.SSLContext, pipelining: bool, mode: str
) -> None:
    controller, handler = _tls_server(trusted)
    pool = _pool(controller.port, pipelining, start_tls=mode)
    try:
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
        controller.stop()
    assert handler.over_tls == [True]


async def test_starttls_required_but_not_offered(serve: Serve, pipelining: bool) -> None:
    server = await serve(Script())
    pool = _pool(server.port, pipelining, start_tls="required")
    try:
        with pytest.raises(SmtpConnectError):
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    assert "MAIL" not in server.verbs()


@pytest.mark.parametrize("mode", ["required", "auto"])
async def test_starttls_offered_then_refused(serve: Serve, pipelining: bool, mode: str) -> None:
    # No silent fall back to plain text once TLS was offered and failed.
    server = await serve(Script(extensions=(*DEFAULT_EXTENSIONS, "STARTTLS")))
    pool = _pool(server.port, pipelining, start_tls=mode)
    try:
        with pytest.raises(SmtpConnectError) as refused:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert refused.value.code == 454
    finally:
        await pool.close()
    assert "MAIL" not in server.verbs()


async def test_starttls_over_the_scripted_server(
    serve: Serve, trusted: ssl.SSLContext, pipelining: bool
) -> None:
    server = await serve(Script(tls_context=trusted))
    pool = _pool(server.port, pipelining, start_tls="required")
    try:
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
    assert server.verbs()[:3] == ["EHLO", "STARTTLS", "EHLO"]
    assert len(server.messages) == 1


async def test_a_reply_injected_before_tls_is_never_taken_for_one_after_it(
    serve: Serve, trusted: ssl.SSLContext, pipelining: bool
) -> None:
    # Plain-text bytes after the 220 (a man in the middle's) must not be read as the relay's
    # answer over TLS: either they are dropped (aiosmtplib) or the connection is refused.
    injected = b"250 scripted.test\r\n"  # an EHLO reply without STARTTLS, PIPELINING, AUTH
    server = await serve(Script(tls_context=trusted, injected=injected, extensions=("8BITMIME",)))
    pool = _pool(server.port, pipelining, start_tls="required")
    try:
        try:
            await pool.send("a@b.dk", ["c@d.dk"], EIGHT_BIT)
        except SmtpConnectError as refused:
            assert "STARTTLS" in refused.message
            assert "MAIL" not in server.verbs()
        else:  # the injected reply was dropped: the extensions are those said over TLS
            assert b"BODY=8BITMIME" in next(c for c in server.commands if c.startswith(b"MAIL"))
    finally:
        await pool.close()


async def test_starttls_with_an_untrusted_certificate(
    certificate: tuple[Path, Path], pipelining: bool
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)  # the clients do not trust it here
    controller, handler = _tls_server(context)
    pool = _pool(controller.port, pipelining, start_tls="required")
    try:
        with pytest.raises(SmtpConnectError):
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
        controller.stop()
    assert handler.messages == []


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_auth_with_the_mechanism_offered(
    trusted: ssl.SSLContext, pipelining: bool, mechanism: str
) -> None:
    handler = _TlsRecordingHandler()
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), tls_context=trusted,
        require_starttls=True, authenticator=handler.authenticate, auth_require_tls=True,
        auth_exclude_mechanism=[other],
    )  # fmt: skip
    controller.start()
    pool = _pool(controller.port, pipelining, username="mailer", password=Secret("s3cret"))
    try:
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
        controller.stop()
    assert handler.mechanisms == [mechanism]
    assert handler.over_tls == [True]


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


async def test_a_wrong_password_fails_clearly_without_showing_it(
    trusted: ssl.SSLContext, pipelining: bool, caplog: pytest.LogCaptureFixture
) -> None:
    handler = _TlsRecordingHandler()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), tls_context=trusted,
        require_starttls=True, authenticator=handler.authenticate,
    )  # fmt: skip
    controller.start()
    pool = _pool(controller.port, pipelining, username="mailer", password=Secret(PASSWORD))
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(SmtpConnectError) as refused:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
        controller.stop()
    assert refused.value.code == 535
    secrets = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
               base64.b64encode(f"\0mailer\0{PASSWORD}".encode()).decode()]  # fmt: skip
    shown = [text for exc in _chain(refused.value) for text in (str(exc), repr(exc))]
    shown += [caplog.text, repr(pool.relay)]
    for secret in secrets:
        assert not any(secret in text for text in shown)
    assert handler.messages == []


async def test_credentials_for_a_relay_without_auth(serve: Serve, pipelining: bool) -> None:
    server = await serve(Script())
    pool = _pool(server.port, pipelining, username="mailer", password=Secret(PASSWORD))
    try:
        with pytest.raises(SmtpConnectError) as refused:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert "AUTH" in refused.value.message and PASSWORD not in refused.value.message
    finally:
        await pool.close()
    assert "MAIL" not in server.verbs()


# --- A pipelined batch against Postfix's smtp-sink ----------------------------------------

SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


@pytest.fixture
def sink_folder() -> Iterator[Path]:
    """A folder smtp-sink can write its dump to after dropping to nobody (pytest's is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="smtp-sink-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(not os.path.exists(SINK), reason="Postfix's smtp-sink is not installed")
async def test_a_batch_against_smtp_sink(sink_folder: Path, pipelining: bool) -> None:
    # Four connections, 200 transactions of two recipients each, pipelined where offered.
    dump = sink_folder / "dump"
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = await asyncio.create_subprocess_exec(
        SINK, *user, "-c", "-D", str(dump), f"127.0.0.1:{port}", "100",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(0.3)
    settings = SmtpSettings("127.0.0.1", port, timeout=5, start_tls="off")
    pool = SmtpPool(settings, 4, local_hostname="kultur.test", pipelining=pipelining)
    bodies = [
        MESSAGE,
        b"Subject: s\r\n\r\n.\r\n..x\r\nend",
        b"Subject: s\r\n\r\nhi\n.\n" + SMUGGLED,
    ]
    try:
        await asyncio.gather(*(
            pool.send("a@b.dk", [f"r{n}@d.dk", f"s{n}@d.dk"], bodies[n % 3]) for n in range(200)
        ))  # fmt: skip
    finally:
        await pool.close()
        await asyncio.sleep(0.2)
        sink.terminate()
        output, _ = await sink.communicate()
    counters = re.findall(rb"mesg=(\d+)", output)
    assert counters and int(counters[-1]) == 200
    dumped = dump.read_bytes()
    assert dumped.count(b"X-Mail-Args: <a@b.dk>") == 200
    assert dumped.count(b"X-Rcpt-Args: ") == 400
    assert b"X-Mail-Args: <smuggled" not in dumped
    assert dumped.count(b"\nhi\n.\nMAIL FROM:<smuggled@evil.test>\n") == 66  # as content
    assert dumped.count(b"\n.\n..x\nend\n") == 67  # unstuffed by the sink
