"""The bounce listener: an SMTP endpoint for the VERP return paths of campaign mail.

Point the MX of ``BREVDUE_MAILER_BOUNCE_DOMAIN`` (or a relay's transport for it) at
``BREVDUE_MAILER_BOUNCE_HOST:BOUNCE_PORT``. Only genuine (signed) VERP addresses are accepted;
a hard bounce or a complaint marks the ledger row 'bounced', which suppresses the address in
later campaigns (see queries.ledger). Soft bounces and anything else are accepted and dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.exc import SQLAlchemyError

from services.mailer import queries
from services.mailer.bounces import classify, parse_verp
from services.mailer.delivery import utcnow
from services.mailer.runtime import MailerRuntime

log = structlog.get_logger(__name__)

_MAX_REPORT = 2 * 1024 * 1024  # reports quote the original; campaign mail is far smaller


async def process_report(runtime: MailerRuntime, recipients: list[str], data: bytes) -> int:
    """Record a DSN or complaint that came back to VERP ``recipients``; return rows changed."""
    bounce = classify(data)
    if bounce is None or bounce.kind == "soft":
        return 0
    changed = 0
    async with runtime.engine.begin() as conn:
        for recipient in recipients:
            ids = parse_verp(runtime.verp_secrets, recipient)
            if ids is None:
                continue
            changed += await queries.record_bounce(
                conn,
                campaign_id=ids[0],
                subscriber_id=ids[1],
                code=bounce.code,
                response=bounce.describe(),
                now=utcnow(),
            )
    if changed:
        runtime.metrics.ledger.labels(queries.BOUNCED).inc(changed)
        log.info("bounce.recorded", kind=bounce.kind, status=bounce.status, rows=changed)
    return changed


class BounceHandler:
    """aiosmtpd hooks: refuse what is not ours, record what is."""

    def __init__(self, runtime: MailerRuntime) -> None:
        self.runtime = runtime

    async def handle_RCPT(  # aiosmtpd calls its hooks by these names
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        """Accept only signed VERP addresses."""
        if parse_verp(self.runtime.verp_secrets, address) is None:
            return "550 5.1.1 not a bounce address here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # aiosmtpd calls its hooks by these names
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Read the report; ask the sender to retry if the ledger cannot be written now."""
        data = envelope.original_content or b""
        try:
            await process_report(self.runtime, list(envelope.rcpt_tos), bytes(data))
        except SQLAlchemyError:
            log.exception("bounce.store_failed")
            return "451 4.3.0 try again later"
        return "250 OK"


async def start_listener(runtime: MailerRuntime, host: str, port: int) -> asyncio.Server:
    """Listen for bounces on ``host:port`` in the running event loop."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(
            BounceHandler(runtime),
            hostname=runtime.domain,
            data_size_limit=_MAX_REPORT,
            decode_data=False,
        ),
        host,
        port,
    )
