"""What a message and its envelope must satisfy to go over SMTP; both clients apply the same rules.

Line ends (RFC 5321 4.1.1.4, RFC 5322 2.3): a client may send CR and LF only as CRLF. In the
body a bare CR or LF is turned into CRLF, as aiosmtplib and sendmail do, and only then are
lines starting with '.' doubled, so a bare LF followed by '.' can never end DATA early on a
relay that takes LF as a line end (SMTP smuggling). In the header section a line break is
structure: turning a bare LF inside a value into CRLF would add a header field the builder
never meant (header injection), so such a message is refused before anything is sent.

8-bit content needs BODY=8BITMIME (RFC 6152) and a non-ASCII address needs SMTPUTF8 (RFC
6531); when the relay does not offer them the message is refused rather than sent damaged.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from services.mailer.errors import UnsendableMessageError

_LINE_END = re.compile(rb"\r\n|\n|\r")
# Control characters, space and angle brackets: an address with one would break the command.
_BAD_ADDRESS = re.compile(r"[\x00-\x20\x7f<>]")


def _has_bare_line_breaks(data: bytes) -> bool:
    pairs = data.count(b"\r\n")
    return data.count(b"\r") != pairs or data.count(b"\n") != pairs


def check_header_section(message: bytes) -> None:
    """Refuse a message whose header section holds a CR or LF that is not part of a CRLF."""
    # The header section ends at the first CRLF CRLF; a bare LF before it is inside it.
    end = message.find(b"\r\n\r\n")
    head = message if end < 0 else message[: end + 2]
    if _has_bare_line_breaks(head):
        raise UnsendableMessageError("the header section contains a bare CR or LF")


def data_payload(message: bytes) -> bytes:
    """The bytes after DATA: CRLF line ends, dot-stuffed, ending with CRLF.CRLF."""
    if _has_bare_line_breaks(message):
        check_header_section(message)
        message = _LINE_END.sub(b"\r\n", message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    if stuffed[:1] == b".":
        stuffed = b"." + stuffed
    return stuffed + b".\r\n"


def mail_parameters(
    extensions: Collection[str], sender: str, recipients: list[str], message: bytes
) -> list[str]:
    """The MAIL FROM parameters the message needs; refused if the relay lacks an extension.

    ``extensions`` are the EHLO keywords in lower case.
    """
    parameters: list[str] = []
    for address in (sender, *recipients):
        if _BAD_ADDRESS.search(address):
            raise UnsendableMessageError(f"the address {address!r} cannot be put in a command")
    if not message.isascii():
        if "8bitmime" not in extensions:
            raise UnsendableMessageError(
                "the message has 8-bit content and the relay does not offer 8BITMIME"
            )
        parameters.append("BODY=8BITMIME")
    if not (sender.isascii() and all(address.isascii() for address in recipients)):
        if "smtputf8" not in extensions:
            raise UnsendableMessageError(
                "a non-ASCII address needs SMTPUTF8, which the relay does not offer"
            )
        parameters.append("SMTPUTF8")
    return parameters
