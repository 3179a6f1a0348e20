"""Errors the mailer raises on purpose; each carries the data needed to act on it."""

from __future__ import annotations

from shared.errors import BrevdueError


class MailerError(BrevdueError):
    """Base class of every mailer error."""


class HeaderInjectionError(MailerError):
    """A header value contained CR or LF and was refused."""

    def __init__(self, header: str) -> None:
        self.header = header
        super().__init__(f"header {header!r} contains a line break")


class UnsupportedAddressError(MailerError):
    """An address cannot be sent without SMTPUTF8 (non-ASCII local part) or is malformed."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(f"cannot send to {address!r}")


class CampaignNotFoundError(MailerError):
    """The campaign named by a job no longer exists."""

    def __init__(self, campaign_id: int) -> None:
        self.campaign_id = campaign_id
        super().__init__(f"campaign {campaign_id} does not exist")


class SmtpError(MailerError):
    """An SMTP exchange failed; ``temporary`` says whether trying again later may work."""

    def __init__(self, code: int, message: str, *, temporary: bool) -> None:
        self.code = code
        self.message = message
        self.temporary = temporary
        super().__init__(f"{code} {message}")


class SmtpConnectError(SmtpError):
    """No connection could be opened: nothing was sent, so another relay may be tried at once."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message, temporary=True)


def is_temporary(code: int) -> bool:
    """4xx replies (and our own 0 for connection trouble) are worth another try; 5xx are not."""
    return code < 500
