"""An in-process aiosmtpd server that records what it accepts, and can be told to fail."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class ReceivedMessage:
    """One accepted message: envelope and the raw bytes as they arrived."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        """The message parsed by the stdlib parser (modern policy)."""
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class RecordingHandler:
    """aiosmtpd handler that keeps messages; ``fail_rcpt`` maps address -> SMTP reply."""

    messages: list[ReceivedMessage] = field(default_factory=list)
    fail_rcpt: dict[str, str] = field(default_factory=dict)
    # Addresses of ``fail_rcpt`` refused only once: the next RCPT for them is accepted.
    fail_once: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        reply = self.fail_rcpt.get(address.lower())
        if reply:
            if address.lower() in self.fail_once:
                self.fail_once.discard(address.lower())
                self.fail_rcpt.pop(address.lower(), None)
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        with self.arrived:
            self.messages.append(
                ReceivedMessage(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=list(envelope.rcpt_tos),
                    data=bytes(content),
                )
            )
            self.arrived.notify_all()
        return "250 Message accepted"


class RecordingSMTPServer:
    """A real SMTP server on 127.0.0.1 for tests."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.handler = RecordingHandler()
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=port, decode_data=False
        )

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Messages accepted so far."""
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> None:
        """Start listening."""
        self._controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()

    def to(self, address: str) -> list[ReceivedMessage]:
        """Messages whose envelope names ``address``."""
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]


@dataclass
class SlowHandler(RecordingHandler):
    """Takes ``delay`` seconds over each message's DATA, as a busy relay would."""

    delay: float = 0.05

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


class SlowSMTPServer(RecordingSMTPServer):
    """The recording server with a slow DATA phase, so a campaign lasts long enough to watch."""

    def __init__(self, port: int, delay: float) -> None:
        self.port = port
        self.handler = SlowHandler(delay=delay)
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=port, decode_data=False
        )


@dataclass
class ScriptedHandler(RecordingHandler):
    """Misbehaves once per address: ``drop_once`` / ``slow_once`` name the recipients.

    A dropped DATA closes the connection before any reply and keeps nothing. A slow DATA keeps
    the message first (as a relay that has queued it) and answers only after ``delay`` seconds,
    so a client with a shorter timeout gives up on a message the server did accept.
    """

    drop_once: set[str] = field(default_factory=set)
    slow_once: set[str] = field(default_factory=set)
    delay: float = 1.0

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        addresses = {address.lower() for address in envelope.rcpt_tos}
        with self.lock:
            dropped = addresses & self.drop_once
            slowed = addresses & self.slow_once
            self.drop_once -= dropped
            self.slow_once -= slowed
        if dropped:
            assert server.transport is not None
            server.transport.close()
            return "421 4.4.2 connection dropped"  # never reaches the client
        reply = await super().handle_DATA(server, session, envelope)
        if slowed:
            await asyncio.sleep(self.delay)
        return reply


class ScriptedSMTPServer(RecordingSMTPServer):
    """The recording server with a ScriptedHandler."""

    def __init__(self, port: int, delay: float) -> None:
        self.port = port
        self.handler = ScriptedHandler(delay=delay)
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=port, decode_data=False
        )
