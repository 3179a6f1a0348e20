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


class UnsendableMessageError(SmtpError):
    """The client refused to send: nothing went to the relay, and trying again will not help.

    A bare CR or LF in the header section, 8-bit content for a relay without 8BITMIME, a
    non-ASCII address for a relay without SMTPUTF8, an address that would break the command.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(0, reason, temporary=False)


def is_temporary(code: int) -> bool:
    """4xx replies (and our own 0 for connection trouble) are worth another try; 5xx are not."""
    return code < 500


class WebhookError(MailerError):
    """A provider's webhook request was refused; ``status`` is the HTTP answer."""

    status = 400

    def __init__(self, provider: str, reason: str) -> None:
        self.provider = provider
        self.reason = reason
        super().__init__(f"{provider} webhook: {reason}")


class WebhookDisabled(WebhookError):
    """No credentials are configured for this provider (or there is no such provider)."""

    status = 404


class WebhookUnauthorized(WebhookError):
    """Credentials missing or wrong (HTTP Basic auth)."""

    status = 401


class WebhookForbidden(WebhookError):
    """A signature that does not verify, a stale timestamp, a replay or a foreign sender."""

    status = 403


class WebhookPayloadError(WebhookError):
    """The body is not the JSON the provider sends."""

    status = 400


class WebhookUnavailable(WebhookError):
    """Something we depend on (a certificate download) failed: the provider should retry."""

    status = 503
