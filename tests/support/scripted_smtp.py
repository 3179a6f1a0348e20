"""A small SMTP server on a raw asyncio socket that answers as it is told, including badly.

aiosmtpd is a correct server; the protocol tests also need a peer that sends garbage, splits
its replies byte by byte, stalls in the middle of a reply or, like many relays, takes a bare LF
as the end of a line. It is a real TCP peer: the client under test speaks to it over a socket.
It answers only once it has read every complete command line in hand, so commands that arrive
together (pipelined) get their replies together, in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field

DEFAULT_EXTENSIONS = ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES")
_DEFAULT_REPLIES = {
    "GREETING": b"220 scripted.test ESMTP\r\n",
    "HELO": b"250 scripted.test\r\n",
    "MAIL": b"250 2.1.0 Ok\r\n",
    "RCPT": b"250 2.1.5 Ok\r\n",
    "DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    ".": b"250 2.0.0 Ok: queued\r\n",
    "RSET": b"250 2.0.0 Ok\r\n",
    "NOOP": b"250 2.0.0 Ok\r\n",
    "QUIT": b"221 2.0.0 Bye\r\n",
    "STARTTLS": b"454 4.7.0 TLS not available\r\n",
}


@dataclass
class Script:
    """How the server behaves. ``replies`` and ``stall`` apply to its first connection only.

    ``replies`` maps a verb (or "GREETING", or "." for the end of DATA) to the raw bytes to
    answer; ``stall`` names verbs after whose (partial) reply the server goes silent;
    ``refuse`` maps RCPT addresses to a reply; ``byte_by_byte`` sends every reply one byte per
    write with a pause between; ``line_pause`` sends replies line by line with that pause;
    ``lenient_data`` takes a bare LF as a line end inside DATA, as many relays do.
    """

    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    replies: dict[str, bytes] = field(default_factory=dict)
    stall: set[str] = field(default_factory=set)
    refuse: dict[str, bytes] = field(default_factory=dict)
    byte_by_byte: bool = False
    line_pause: float = 0.0
    lenient_data: bool = False
    # With a context the server offers STARTTLS and upgrades; ``injected`` follows its 220 in
    # the same write, still in plain text, as a man in the middle would add it.
    tls_context: ssl.SSLContext | None = None
    injected: bytes = b""


@dataclass
class ScriptedServer:
    """The server's record: connections, command lines, reads and messages (as sent, stuffed)."""

    script: Script
    port: int = 0
    connections: int = 0
    commands: list[bytes] = field(default_factory=list)
    reads: list[bytes] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _sessions: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and end every session."""
        assert self._server is not None
        self._server.close()
        for task in list(self._sessions):
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)

    def verbs(self) -> list[str]:
        """The verbs of the commands received so far, in order."""
        return [_verb(line) for line in self.commands]

    def unstuffed(self, index: int = -1) -> bytes:
        """A received message with its dot-stuffing undone (as a relay stores it)."""
        lines = self.messages[index].split(b"\r\n")
        return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        self.connections += 1
        scripted = self.connections == 1
        try:
            await self._converse(reader, writer, scripted)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._sessions.discard(task)
            writer.close()

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, scripted: bool
    ) -> None:
        script = self.script
        replies = {**_DEFAULT_REPLIES, **(script.replies if scripted else {})}
        tls = ("STARTTLS",) if script.tls_context else ()
        replies.setdefault("EHLO", _ehlo((*script.extensions, *tls)))
        if script.tls_context:
            replies["STARTTLS"] = b"220 2.0.0 Ready to start TLS\r\n" + script.injected
        session = _Session(self, replies, script.stall if scripted else set())
        if not await self._answer(writer, [replies["GREETING"]], "GREETING" in session.stall):
            return await _silent(reader)
        while chunk := await reader.read(65536):
            self.reads.append(chunk)
            pending, stalled = session.feed(chunk)
            if session.quit:
                await self._answer(writer, pending, False)
                return None
            if not await self._answer(writer, pending, stalled):
                return await _silent(reader)
            if session.starttls and script.tls_context:
                await writer.start_tls(script.tls_context)
                session.starttls = False
        return None

    async def _answer(
        self, writer: asyncio.StreamWriter, replies: list[bytes], stall: bool
    ) -> bool:
        # Returns False when the server is to go silent from now on.
        if not replies:
            return True
        out = b"".join(replies)
        if self.script.byte_by_byte:
            for index in range(len(out)):
                writer.write(out[index : index + 1])
                await writer.drain()
                await asyncio.sleep(0.001)
        elif self.script.line_pause:
            for line in out.splitlines(keepends=True):
                writer.write(line)
                await writer.drain()
                await asyncio.sleep(self.script.line_pause)
        else:
            writer.write(out)
            await writer.drain()
        return not stall


@dataclass
class _Session:
    """One connection's state: answers every complete line in hand, as a relay would."""

    server: ScriptedServer
    replies: dict[str, bytes]
    stall: set[str]
    buffer: bytes = b""
    data: bytearray = field(default_factory=bytearray)
    in_data: bool = False
    in_mail: bool = False
    recipients: int = 0
    quit: bool = False
    starttls: bool = False

    def feed(self, chunk: bytes) -> tuple[list[bytes], bool]:
        """The replies to what has arrived, and whether the server stalls after them."""
        self.buffer += chunk
        pending: list[bytes] = []
        while not (self.quit or self.starttls):
            line = self._next_line()
            if line is None:
                break
            verb, reply = self._end_of_data(line) if self.in_data else self._command(line)
            if reply is not None:
                pending.append(reply)
                if verb in self.stall:
                    return pending, True
        return pending, False

    def _next_line(self) -> bytes | None:
        lenient = self.in_data and self.server.script.lenient_data
        end = self.buffer.find(b"\n") if lenient or not self.in_data else self.buffer.find(b"\r\n")
        if end < 0:
            return None
        step = 1 if lenient or not self.in_data else 2
        line, self.buffer = self.buffer[: end + step], self.buffer[end + step :]
        return line

    def _end_of_data(self, line: bytes) -> tuple[str, bytes | None]:
        if line.rstrip(b"\r\n") != b".":
            self.data += line if line.endswith(b"\r\n") else line[:-1] + b"\r\n"
            return "", None
        self.in_data, self.in_mail, self.recipients = False, False, 0
        self.server.messages.append(bytes(self.data))
        self.data.clear()
        return ".", self.replies["."]

    def _command(self, line: bytes) -> tuple[str, bytes]:
        self.server.commands.append(line)
        verb = _verb(line)
        reply = self.replies.get(verb, b"502 5.5.2 Error: command not recognized\r\n")
        if verb == "MAIL":
            self.in_mail, self.recipients = reply.startswith(b"2"), 0
        elif verb == "RCPT" and not self.in_mail:
            reply = b"503 5.5.1 Error: need MAIL command\r\n"
        elif verb == "RCPT":
            address = line.split(b"<", 1)[-1].split(b">", 1)[0].decode()
            reply = self.server.script.refuse.get(address, reply)
            self.recipients += reply.startswith(b"2")
        elif verb == "DATA" and not self.recipients:
            reply = b"554 5.5.1 Error: no valid recipients\r\n"
        elif verb in ("RSET", "HELO", "EHLO"):
            self.in_mail, self.recipients = False, 0
        self.in_data = verb == "DATA" and reply.startswith(b"354")
        self.quit = verb == "QUIT"
        self.starttls = verb == "STARTTLS" and reply.startswith(b"220")
        return verb, reply


async def _silent(reader: asyncio.StreamReader) -> None:
    # Keep the connection open and say nothing until the client gives up and closes it.
    with contextlib.suppress(OSError):
        while await reader.read(65536):
            pass


def _verb(line: bytes) -> str:
    return line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper().decode("ascii", "replace")


def _ehlo(extensions: tuple[str, ...]) -> bytes:
    lines = ["scripted.test", *extensions]
    return b"".join(
        f"250{'-' if n < len(lines) - 1 else ' '}{text}\r\n".encode()
        for n, text in enumerate(lines)
    )
