"""TLS and AUTH towards the relay: STARTTLS required with login, implicit TLS, refusal."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from brevdue_cli.redis_server import free_port
from services.mailer.errors import SmtpConnectError
from services.mailer.smtp_pool import SmtpPool
from shared.settings import SmtpSettings
from tests.support.smtp import RecordingHandler

MESSAGE = b"From: a@b.dk\r\nTo: c@d.dk\r\nSubject: s\r\n\r\nbody\r\n"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535 itself


def _serve(**kwargs: Any) -> tuple[Controller, RecordingHandler, int]:
    handler, port = RecordingHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, handler, port


@pytest.fixture(params=[False, True], ids=["aiosmtplib", "wire"])
def pipelining(request: pytest.FixtureRequest) -> bool:
    """Both connection kinds."""
    return bool(request.param)


async def test_starttls_required_with_login(trusted: ssl.SSLContext, pipelining: bool) -> None:
    controller, handler, port = _serve(
        tls_context=trusted, require_starttls=True, authenticator=_authenticate,
        auth_require_tls=True,
    )  # fmt: skip
    relay = SmtpSettings.from_url(f"smtp://mailer:s3cret@127.0.0.1:{port}?starttls=required")
    pool = SmtpPool(relay, 1, local_hostname="kultur.test", pipelining=pipelining)
    try:
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
        controller.stop()
    assert len(handler.messages) == 1


async def test_implicit_tls(trusted: ssl.SSLContext, pipelining: bool) -> None:
    controller, handler, port = _serve(ssl_context=trusted)
    pool = SmtpPool(
        SmtpSettings.from_url(f"smtps://127.0.0.1:{port}"), 1, pipelining=pipelining,
        local_hostname="kultur.test",
    )  # fmt: skip
    try:
        await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
        controller.stop()
    assert len(handler.messages) == 1


async def test_starttls_required_but_not_offered(pipelining: bool) -> None:
    controller, handler, port = _serve()
    relay = SmtpSettings.from_url(f"smtp://127.0.0.1:{port}?starttls=required&timeout=5")
    pool = SmtpPool(relay, 1, local_hostname="kultur.test", pipelining=pipelining)
    try:
        with pytest.raises(SmtpConnectError):
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
    finally:
        await pool.close()
        controller.stop()
    assert handler.messages == []


async def test_wrong_password(trusted: ssl.SSLContext, pipelining: bool) -> None:
    controller, handler, port = _serve(
        tls_context=trusted, require_starttls=True, authenticator=_authenticate,
    )  # fmt: skip
    relay = SmtpSettings.from_url(f"smtp://mailer:wrong@127.0.0.1:{port}?starttls=required")
    pool = SmtpPool(relay, 1, local_hostname="kultur.test", pipelining=pipelining)
    try:
        with pytest.raises(SmtpConnectError) as refused:
            await pool.send("a@b.dk", ["c@d.dk"], MESSAGE)
        assert refused.value.code == 535
    finally:
        await pool.close()
        controller.stop()
    assert handler.messages == []
