"""VERP return paths and the reading of bounces (RFC 3464 DSN) and complaints (RFC 5965 ARF).

Campaign mail leaves with ``MAIL FROM:<bounces+c12.s345.<sig>@domain>``: a bounce comes back to
an address that names the campaign and subscriber, signed so that nobody can forge one to
suppress someone else.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from typing import Literal

from services.mailer.mime import campaign_message_id

_VERP = re.compile(r"^bounces\+c(\d+)\.s(\d+)\.([0-9a-f]{12})@", re.IGNORECASE)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_MESSAGE_ID = re.compile(r"<?c(\d{1,18})\.s(\d{1,18})\.[0-9a-f]{16}@([A-Za-z0-9.-]+)>?")


def _signature(secret: bytes, campaign_id: int, subscriber_id: int) -> str:
    message = f"{campaign_id}.{subscriber_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:12]


def verp_address(secret: bytes, campaign_id: int, subscriber_id: int, domain: str) -> str:
    """The envelope sender for one recipient of a campaign."""
    sig = _signature(secret, campaign_id, subscriber_id)
    return f"bounces+c{campaign_id}.s{subscriber_id}.{sig}@{domain}"


def parse_verp(secrets: Sequence[bytes], address: str) -> tuple[int, int] | None:
    """(campaign id, subscriber id) of a genuine VERP address, else None (any key verifies)."""
    match = _VERP.match(address.strip().strip("<>"))
    if match is None:
        return None
    campaign_id, subscriber_id = int(match.group(1)), int(match.group(2))
    for secret in secrets:
        expected = _signature(secret, campaign_id, subscriber_id)
        if hmac.compare_digest(expected, match.group(3).lower()):
            return campaign_id, subscriber_id
    return None


def parse_campaign_message_id(value: str) -> tuple[int, int] | None:
    """(campaign id, subscriber id) of a campaign Message-ID found in ``value``, else None.

    Providers echo the header with or without angle brackets, sometimes among other ids. The
    digest is checked so a transactional or foreign id never matches by accident (it is not a
    secret: the webhooks that carry it are authenticated themselves).
    """
    for match in _MESSAGE_ID.finditer(value):
        campaign_id, subscriber_id = int(match.group(1)), int(match.group(2))
        expected = campaign_message_id(campaign_id, subscriber_id, match.group(3))
        if expected == f"<{match.group(0).strip('<>')}>":
            return campaign_id, subscriber_id
    return None


EventKind = Literal["hard", "soft", "complaint"]


@dataclass(frozen=True, slots=True)
class Bounce:
    """What a report says: hard (address is dead), soft (try later) or a complaint."""

    kind: EventKind
    status: str  # enhanced status code, e.g. "5.1.1"; "abuse" for complaints
    diagnostic: str

    @property
    def code(self) -> int | None:
        """The SMTP reply code in the diagnostic ("smtp; 550 5.1.1 …"), if there is one."""
        match = re.search(r"\b([245]\d\d)\b", self.diagnostic)
        return int(match.group(1)) if match else None

    def describe(self) -> str:
        """A line for the ledger's last_response."""
        if self.kind == "complaint":
            return f"complaint: {self.status}"
        return f"bounce {self.status}: {self.diagnostic}"[:500]


def classify(data: bytes) -> Bounce | None:
    """Read a DSN or ARF report; None when the message is neither (an auto-reply, say)."""
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    report_type = str(message.get_param("report-type") or "").lower()
    if message.get_content_type() != "multipart/report":
        return None
    if report_type == "feedback-report":
        fields = _fields(_part(message, "message/feedback-report"))
        return Bounce("complaint", fields.get("feedback-type", "abuse"), "feedback report")
    if report_type == "delivery-status":
        return _delivery_status(_fields(_part(message, "message/delivery-status")))
    return None


def _delivery_status(fields: dict[str, str]) -> Bounce | None:
    action = fields.get("action", "").lower()
    match = _STATUS.search(fields.get("status", ""))
    if match is None or action not in ("failed", "delayed"):
        return None
    status = ".".join(match.groups())
    diagnostic = fields.get("diagnostic-code", "")[:400]
    kind: Literal["hard", "soft"] = (
        "hard" if action == "failed" and status.startswith("5") else "soft"
    )
    return Bounce(kind, status, diagnostic)


def _part(message: EmailMessage, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _fields(part: Message | None) -> dict[str, str]:
    """The header-like fields of a delivery-status or feedback-report part, lower-cased."""
    if part is None:
        return {}
    payload = part.get_payload()
    if isinstance(payload, list):  # the parser splits delivery-status into header blocks
        blocks = [str(block) for block in payload]
    else:
        raw = part.get_payload(decode=True)
        blocks = [raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)]
    fields: dict[str, str] = {}
    for line in "\n".join(blocks).replace("\r\n", "\n").replace("\n ", " ").splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip():
            # Per-recipient fields come last and win over the per-message ones.
            fields[name.strip().lower()] = value.strip()
    return fields
