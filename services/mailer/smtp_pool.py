"""A pool of persistent SMTP connections to one relay that sends pre-built message bytes.

Two connection kinds: aiosmtplib's client (default, ``sendmail()`` with the bytes as they are),
and the pipelining ``WireConnection`` for bulk mail when enabled. Both report failures as
SmtpError with the relay's code.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Protocol

import aiosmtplib
from aiosmtplib import SMTPHeloError, SMTPRecipientsRefused, SMTPResponseException

from services.mailer.errors import SmtpConnectError, SmtpError, is_temporary
from services.mailer.metrics import RelayMetrics
from services.mailer.smtp_transfer import check_header_section, mail_parameters
from services.mailer.smtp_wire import WireConnection
from shared.settings import SmtpSettings

_START_TLS: dict[str, bool | None] = {"required": True, "auto": None, "off": False}
_SERVICE_CLOSING = 421


@dataclass(frozen=True, slots=True)
class SendResult:
    """The server accepted the message for at least one recipient; ``refused`` lists the rest."""

    code: int
    message: str
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


class Connection(Protocol):
    """One SMTP connection as the pool uses it."""

    @property
    def is_connected(self) -> bool:
        """True while the connection is usable."""

    async def connect(self) -> None:
        """Open the connection (TLS, AUTH); SmtpError on failure."""

    async def noop(self) -> None:
        """Raise if the connection is dead."""

    async def quit(self) -> None:
        """Close politely."""

    def close(self) -> None:
        """Close now."""

    async def send(
        self, sender: str, recipients: list[str], message: bytes
    ) -> tuple[int, str, dict[str, tuple[int, str]]]:
        """One transaction: (code, text, refused) or SmtpError."""


class AiosmtplibConnection:
    """aiosmtplib's client behind the Connection interface."""

    def __init__(self, relay: SmtpSettings, local_hostname: str | None) -> None:
        self.client = aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            username=relay.username,
            password=relay.password.reveal() or None,
            use_tls=relay.use_tls,
            start_tls=_START_TLS[relay.start_tls],
            timeout=relay.timeout,
            local_hostname=local_hostname,
        )

    @property
    def is_connected(self) -> bool:
        """True while the connection is usable."""
        return self.client.is_connected

    async def connect(self) -> None:
        """Connect, with STARTTLS and login as configured."""
        try:
            await self.client.connect()
            if self.client.is_ehlo_or_helo_needed:  # the extensions decide the MAIL parameters
                try:
                    await self.client.ehlo()
                except SMTPHeloError:
                    await self.client.helo()
        except SMTPResponseException as exc:
            self.client.close()
            # Whatever the relay says at connect or login, it is not the recipient's fault.
            raise SmtpConnectError(_reply_code(exc.code), exc.message) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.client.close()
            raise SmtpConnectError(0, f"cannot connect: {exc}") from exc

    async def noop(self) -> None:
        """NOOP; SmtpError if the connection is gone."""
        try:
            await self.client.noop()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SmtpError(0, str(exc), temporary=True) from exc

    async def quit(self) -> None:
        """QUIT, or just close if that fails."""
        try:
            await self.client.quit()
        except (aiosmtplib.SMTPException, OSError):
            self.client.close()

    def close(self) -> None:
        """Close the connection."""
        self.client.close()

    async def send(
        self, sender: str, recipients: list[str], message: bytes
    ) -> tuple[int, str, dict[str, tuple[int, str]]]:
        """``sendmail()`` the bytes as they are (no re-folding of headers)."""
        check_header_section(message)
        options = mail_parameters(self.client.esmtp_extensions, sender, recipients, message)
        try:
            refused, reply = await self.client.sendmail(
                sender, recipients, message, mail_options=options
            )
        except SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            if not all(_reply_code(r.code) for r in exc.recipients):
                self.client.close()
                raise SmtpError(0, f"malformed reply: {first.message}", temporary=True) from exc
            raise SmtpError(first.code, first.message, temporary=is_temporary(first.code)) from exc
        except SMTPResponseException as exc:
            if not _reply_code(exc.code):  # not an SMTP reply: the session cannot be trusted
                self.client.close()
                raise SmtpError(0, f"malformed reply: {exc.message}", temporary=True) from exc
            if exc.code == _SERVICE_CLOSING:
                self.client.close()
            raise SmtpError(exc.code, exc.message, temporary=is_temporary(exc.code)) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.client.close()
            raise SmtpError(0, f"connection lost: {exc}", temporary=True) from exc
        return 250, reply, {address: (r.code, r.message) for address, r in refused.items()}


def _reply_code(code: int) -> int:
    """The code if it is one an SMTP reply can carry (2xx-5xx), else 0."""
    return code if 200 <= code <= 599 else 0


@dataclass(slots=True)
class _Pooled:
    connection: Connection
    last_used: float = 0.0


class SmtpPool:
    """Up to ``size`` connections to one relay, reused across messages, reconnected on drop."""

    def __init__(
        self,
        relay: SmtpSettings,
        size: int,
        *,
        local_hostname: str | None = None,
        idle_probe_after: float = 10.0,
        pipelining: bool = False,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self.relay = relay
        self.size = max(1, size)
        self._local_hostname = local_hostname
        self._idle_probe_after = idle_probe_after
        self._pipelining = pipelining
        self._slots = asyncio.Semaphore(self.size)
        self._idle: list[_Pooled] = []
        self._all: list[_Pooled] = []
        self._closed = False
        self._metrics = metrics

    async def send(self, sender: str, recipients: list[str], message: bytes) -> SendResult:
        """Send ``message`` as it is; raise SmtpError when no recipient took it."""
        if self._closed:
            raise SmtpConnectError(0, "the SMTP pool is closed")
        async with self._slots:
            pooled = self._idle.pop() if self._idle else self._new()
            started = time.monotonic()
            try:
                await self._ready(pooled)
                code, text, refused = await pooled.connection.send(sender, recipients, message)
            except SmtpError as exc:
                self._count(started, exc)
                raise
            except BaseException:
                # Cancelled mid-transaction (a job timeout, a shutdown): the session's state is
                # unknown, and a next MAIL on it would be refused ("503 nested MAIL command"),
                # failing a resident for good. Close it; the next send connects afresh.
                pooled.connection.close()
                raise
            finally:
                pooled.last_used = time.monotonic()
                self._idle.append(pooled)
            self._count(started, None)
            return SendResult(code, text, refused)

    def _count(self, started: float, error: SmtpError | None) -> None:
        metrics = self._metrics
        if metrics is None:
            return
        metrics.latency.observe(time.monotonic() - started)
        if error is None:
            metrics.sent.inc()
        elif error.temporary:
            metrics.temporary.inc()
        else:
            metrics.permanent.inc()

    async def close(self) -> None:
        """QUIT every open connection."""
        self._closed = True
        for pooled in self._all:
            if pooled.connection.is_connected:
                await pooled.connection.quit()
        self._all.clear()
        self._idle.clear()

    def _new(self) -> _Pooled:
        connection: Connection
        if self._pipelining:
            connection = WireConnection(self.relay, self._local_hostname or "localhost")
        else:
            connection = AiosmtplibConnection(self.relay, self._local_hostname)
        pooled = _Pooled(connection)
        self._all.append(pooled)
        return pooled

    async def _ready(self, pooled: _Pooled) -> None:
        connection = pooled.connection
        if connection.is_connected and time.monotonic() - pooled.last_used > self._idle_probe_after:
            # Relays drop idle connections; find out now, while a retry is still harmless.
            try:
                await connection.noop()
            except SmtpError:
                connection.close()
        if not connection.is_connected:
            await connection.connect()
