"""A local SMTP catcher for development: accepts every message and keeps it for the inbox page."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

DEFAULT_LIMIT = 1000


@dataclass
class CaughtMessage:
    """One accepted message: envelope, arrival time and the raw bytes."""

    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    _parsed: EmailMessage | None = field(default=None, repr=False)

    @property
    def parsed(self) -> EmailMessage:
        """The message parsed with the stdlib parser (default policy), parsed once."""
        if self._parsed is None:
            message = email.message_from_bytes(self.data, policy=email.policy.default)
            assert isinstance(message, EmailMessage)  # guaranteed by policy.default
            self._parsed = message
        return self._parsed

    def header(self, name: str) -> str:
        """A decoded header value, or an empty string when absent or unreadable."""
        try:
            value = self.parsed.get(name)
        except (ValueError, TypeError, IndexError):  # malformed headers must not break the inbox
            return ""
        return "" if value is None else str(value)

    def headers(self) -> list[tuple[str, str]]:
        """All headers in order, decoded."""
        items: list[tuple[str, str]] = []
        for name in self.parsed.keys():  # noqa: SIM118 - keys() keeps duplicates, iteration too
            items.append((name, self.header(name)))
        return items

    def raw_headers(self) -> str:
        """The header block exactly as it arrived."""
        head, _, _ = self.data.replace(b"\r\n", b"\n").partition(b"\n\n")
        return head.decode("utf-8", errors="replace")

    def body(self, subtype: str) -> str | None:
        """The text/plain or text/html body, decoded, or None."""
        part = self.parsed.get_body(preferencelist=(subtype,))
        if part is None:
            return None
        try:
            content = part.get_content()
        except (LookupError, ValueError):  # unknown charset or broken encoding
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
            return text.replace("\r\n", "\n")
        # Bodies arrive with the wire's CRLF line ends; show them as ordinary text.
        return content.replace("\r\n", "\n") if isinstance(content, str) else None


class Inbox:
    """The last ``limit`` caught messages in memory, mirrored to ``store`` as .eml files."""

    def __init__(self, limit: int = DEFAULT_LIMIT, store: Path | None = None) -> None:
        self.limit = limit
        self.store = store
        self._messages: deque[CaughtMessage] = deque()
        self._ids = itertools.count(1)
        if store is not None:
            store.mkdir(parents=True, exist_ok=True)
            self._load(store)

    def _load(self, store: Path) -> None:
        files = sorted(store.glob("*.eml"), key=_file_id)[-self.limit :]
        for path in files:
            received = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
            self._messages.append(
                CaughtMessage(_file_id(path), received, "", [], path.read_bytes())
            )
        last = self._messages[-1].id if self._messages else 0
        self._ids = itertools.count(last + 1)

    def add(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> CaughtMessage:
        """Keep one message; drop the oldest beyond the limit."""
        message = CaughtMessage(next(self._ids), datetime.now(UTC), mail_from, rcpt_tos, data)
        self._messages.append(message)
        if self.store is not None:
            (self.store / f"{message.id:08d}.eml").write_bytes(data)
        while len(self._messages) > self.limit:
            self._forget(self._messages.popleft())
        return message

    def _forget(self, message: CaughtMessage) -> None:
        if self.store is not None:
            (self.store / f"{message.id:08d}.eml").unlink(missing_ok=True)

    def newest_first(self) -> list[CaughtMessage]:
        """Every kept message, newest first."""
        return list(reversed(self._messages))

    def get(self, message_id: int) -> CaughtMessage | None:
        """One message by id."""
        return next((m for m in self._messages if m.id == message_id), None)

    def clear(self) -> None:
        """Forget every message (and its file)."""
        while self._messages:
            self._forget(self._messages.popleft())

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[CaughtMessage]:
        return iter(self._messages)


def _file_id(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        return 0


class CatchAllHandler:
    """aiosmtpd handler accepting every recipient and every message into an Inbox."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message as it arrived."""
        content = envelope.original_content or b""
        self.inbox.add(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], content)
        return "250 Message accepted for delivery"


async def start_smtp(inbox: Inbox, host: str, port: int) -> asyncio.Server:
    """Listen for SMTP on ``host:port`` in the running event loop."""
    handler = CatchAllHandler(inbox)

    def factory() -> SMTP:
        return SMTP(handler, hostname="brevdue-catcher", enable_SMTPUTF8=True)

    return await asyncio.get_running_loop().create_server(factory, host=host, port=port)


async def serve(
    host: str, smtp_port: int, http_port: int, store: Path | None, limit: int = DEFAULT_LIMIT
) -> None:
    """Run the SMTP server and the inbox web page until cancelled or interrupted."""
    import uvicorn

    from brevdue_cli.inbox import create_inbox_app

    inbox = Inbox(limit=limit, store=store)
    smtp = await start_smtp(inbox, host, smtp_port)
    config: Any = uvicorn.Config(
        create_inbox_app(inbox), host=host, port=http_port, log_level="warning"
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        smtp.close()
        with contextlib.suppress(Exception):
            await smtp.wait_closed()
