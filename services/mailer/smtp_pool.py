"""A pool of persistent SMTP connections that sends pre-built message bytes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiosmtplib
from aiosmtplib import (
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
)

from services.mailer.errors import SmtpError, is_temporary
from shared.settings import SmtpSettings

_START_TLS: dict[str, bool | None] = {"required": True, "auto": None, "off": False}
_SERVICE_CLOSING = 421


@dataclass(frozen=True, slots=True)
class SendResult:
    """The server accepted the message for at least one recipient; ``refused`` lists the rest."""

    code: int
    message: str
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(slots=True)
class _Connection:
    client: aiosmtplib.SMTP
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
    ) -> None:
        self.relay = relay
        self.size = max(1, size)
        self._local_hostname = local_hostname
        self._idle_probe_after = idle_probe_after
        self._slots = asyncio.Semaphore(self.size)
        self._idle: list[_Connection] = []
        self._all: list[_Connection] = []
        self._closed = False

    async def send(self, sender: str, recipients: list[str], message: bytes) -> SendResult:
        """Send ``message`` as it is; raise SmtpError when no recipient took it."""
        if self._closed:
            raise SmtpError(0, "the SMTP pool is closed", temporary=True)
        async with self._slots:
            connection = self._idle.pop() if self._idle else self._new_connection()
            try:
                await self._ready(connection)
                return await self._send(connection, sender, recipients, message)
            finally:
                connection.last_used = time.monotonic()
                self._idle.append(connection)

    async def close(self) -> None:
        """QUIT every open connection."""
        self._closed = True
        for connection in self._all:
            if connection.client.is_connected:
                try:
                    await connection.client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    connection.client.close()
        self._all.clear()
        self._idle.clear()

    def _new_connection(self) -> _Connection:
        relay = self.relay
        client = aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            username=relay.username,
            password=relay.password.reveal() or None,
            use_tls=relay.use_tls,
            start_tls=_START_TLS[relay.start_tls],
            timeout=relay.timeout,
            local_hostname=self._local_hostname,
        )
        connection = _Connection(client)
        self._all.append(connection)
        return connection

    async def _ready(self, connection: _Connection) -> None:
        client = connection.client
        if client.is_connected and time.monotonic() - connection.last_used > self._idle_probe_after:
            # Relays drop idle sessions; find out now, while a retry is still harmless.
            try:
                await client.noop()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        if client.is_connected:
            return
        try:
            await client.connect()
        except SMTPResponseException as exc:
            client.close()
            # Whatever the relay says at connect or login, it is not the recipient's fault.
            raise SmtpError(exc.code, exc.message, temporary=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise SmtpError(0, f"cannot connect: {exc}", temporary=True) from exc

    async def _send(
        self, connection: _Connection, sender: str, recipients: list[str], message: bytes
    ) -> SendResult:
        client = connection.client
        try:
            refused, reply = await client.sendmail(sender, recipients, message)
        except SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            raise SmtpError(first.code, first.message, temporary=is_temporary(first.code)) from exc
        except SMTPResponseException as exc:
            if exc.code == _SERVICE_CLOSING:
                client.close()
            raise SmtpError(exc.code, exc.message, temporary=is_temporary(exc.code)) from exc
        except (SMTPServerDisconnected, aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise SmtpError(0, f"connection lost: {exc}", temporary=True) from exc
        return SendResult(
            code=250,
            message=reply,
            refused={address: (r.code, r.message) for address, r in refused.items()},
        )
