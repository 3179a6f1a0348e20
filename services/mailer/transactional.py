"""Transactional mail: one rendered OutboundMail in, one SMTP transaction out."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Protocol

import structlog
from arq.worker import Retry

from services.mailer import mime
from services.mailer.errors import MailerError, SmtpError
from services.mailer.retry import backoff
from services.mailer.runtime import MailerRuntime
from shared.contracts import OutboundMail
from shared.queues import TRANSACTIONAL_SENT_MARK_PREFIX, TRANSACTIONAL_SENT_MARK_SECONDS

log = structlog.get_logger(__name__)


# Headers the mailer sets itself; a producer cannot override them.
_RESERVED = frozenset(
    {
        "date",
        "from",
        "to",
        "subject",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "bcc",
        "cc",
        "sender",
        "return-path",
        "dkim-signature",
    }
)


def build_transactional(runtime: MailerRuntime, mail: OutboundMail) -> tuple[str, bytes]:
    """Envelope recipient and message bytes of a transactional mail."""
    name, address = parseaddr(mime.checked("To", mail.to))
    recipient = mime.ascii_address(address or mail.to)
    extra = [(k, v) for k, v in mail.headers.items() if k.lower() not in _RESERVED]
    message = mime.build_message(
        from_header=runtime.from_header,
        to_header=mime.format_mailbox(name, recipient),
        subject=mail.subject,
        message_id=mime.transactional_message_id(mail.message_key, runtime.domain),
        text=mail.text,
        html=mail.html,
        extra_headers=extra,
    )
    return recipient, runtime.signed(message)


class SentMarks(Protocol):
    """The Redis calls that remember which mails went out."""

    async def exists(self, *names: str) -> int:
        """How many of the keys exist."""

    async def set(self, name: str, value: bytes, ex: int | None = None) -> object:
        """Set a key with an expiry in seconds."""


async def send_transactional_mail(
    runtime: MailerRuntime, marks: SentMarks, mail: OutboundMail, job_try: int
) -> str:
    """Send one mail; a temporary failure raises arq's Retry with backoff until the horizon."""
    options = runtime.options
    # arq re-runs a job whose worker died; if that was after the relay took the mail, the
    # mark (set right after) keeps the re-run from sending it again. Kept as long as arq
    # keeps a job id, so a later mail with the same key is not mistaken for a re-run.
    mark = TRANSACTIONAL_SENT_MARK_PREFIX + mail.message_key
    if await marks.exists(mark):
        return "already sent"
    try:
        recipient, message = build_transactional(runtime, mail)
        await runtime.transactional_smtp.send(runtime.envelope_from, [recipient], message)
        await marks.set(mark, b"1", ex=TRANSACTIONAL_SENT_MARK_SECONDS)
    except SmtpError as exc:
        if exc.temporary and job_try < options.max_attempts:
            delay = backoff(job_try, options.retry_base, options.retry_cap)
            log.info("transactional.retry", key=mail.message_key, code=exc.code, defer=delay)
            raise Retry(defer=delay) from exc
        log.warning("transactional.failed", key=mail.message_key, code=exc.code, reason=exc.message)
        return f"failed: {exc}"
    except MailerError as exc:
        log.warning("transactional.refused", key=mail.message_key, reason=str(exc))
        return f"refused: {exc}"
    return "sent"
