"""Bounce and complaint webhooks of sending providers: authenticate, then read their events.

Each reader checks the provider's own proof of origin and turns the body into
:class:`ProviderEvent` values — hard bounce, soft bounce or complaint, with whatever identifies
the mail (our Message-ID, the VERP return path, the recipient) — that inbound.py records.

* Amazon SES, through SNS HTTP notifications: SNS signature (sns.py), configured topics only.
  A SubscriptionConfirmation from a configured topic is confirmed by fetching its SubscribeURL.
* Postmark: the HTTP Basic credentials set on the webhook, compared in constant time.
* SendGrid: the Event Webhook's ECDSA P-256 signature over timestamp + body.
* Mailgun: HMAC-SHA256 of timestamp + token with the signing key; tokens are remembered in
  Redis so a captured request cannot be replayed.

SendGrid and Mailgun requests older than ``max_age`` (5 minutes) are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from redis.asyncio import Redis

from services.mailer.bounces import EventKind
from services.mailer.errors import (
    WebhookForbidden,
    WebhookPayloadError,
    WebhookUnauthorized,
)
from services.mailer.sns import Fetch, SnsVerifier, is_sns_url
from shared.errors import SettingsError
from shared.queues import KEY_PREFIX

log = structlog.get_logger(__name__)

MAILGUN_TOKEN_PREFIX: Final = KEY_PREFIX + "mailer:mailgun-token:"
SENDGRID_SIGNATURE: Final = "x-twilio-email-event-webhook-signature"
SENDGRID_TIMESTAMP: Final = "x-twilio-email-event-webhook-timestamp"
_SMTP_CODE = re.compile(r"\b([245]\d\d)\b")
# Postmark's bounce types that mean the address itself is dead.
_POSTMARK_HARD: Final = frozenset({"HardBounce", "BadEmailAddress"})


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One bounce or complaint a provider reported, and what may identify the mail."""

    kind: EventKind
    recipient: str | None = None
    message_id: str | None = None  # our Message-ID, when the provider echoes it
    return_path: str | None = None  # the envelope sender (our signed VERP address)
    code: int | None = None
    description: str = ""


@dataclass
class Report:
    """What a request carried; ``undo`` runs when recording it failed (the provider retries)."""

    events: list[ProviderEvent]
    undo: Callable[[], Awaitable[None]] | None = None


class WebhookReader(Protocol):
    """Authenticates one provider's request and reads its events."""

    async def read(self, headers: Mapping[str, str], body: bytes) -> Report:
        """Raise a WebhookError when the request is not genuine or not readable."""
        ...


def _json(provider: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(provider, "body is not JSON") from exc


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (optional parts of a payload)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    """A non-empty string field, else None (a payload's types are not to be trusted)."""
    return value if isinstance(value, str) and value else None


def _code(*texts: object) -> int | None:
    for text in texts:
        if isinstance(text, int) and 200 <= text < 600:
            return text
        match = _SMTP_CODE.search(str(text or ""))
        if match:
            return int(match.group(1))
    return None


def _fresh(provider: str, timestamp: str, max_age: float) -> None:
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError as exc:
        raise WebhookForbidden(provider, "timestamp unreadable") from exc
    if age > max_age:
        raise WebhookForbidden(provider, "timestamp too old")


# --- Amazon SES (SNS) ---------------------------------------------------------------------


@dataclass
class SesReader:
    """SES notifications delivered by SNS to an HTTPS subscription."""

    topics: frozenset[str]
    fetch: Fetch
    verifier: SnsVerifier = field(init=False)

    def __post_init__(self) -> None:
        self.verifier = SnsVerifier(self.fetch)

    async def read(self, headers: Mapping[str, str], body: bytes) -> Report:
        """Verify the SNS envelope, confirm subscriptions, read bounces and complaints."""
        message = _json("ses", body)
        if not isinstance(message, dict):
            raise WebhookPayloadError("ses", "not an SNS message")
        await self.verifier.verify(message)
        if _str(message.get("TopicArn")) not in self.topics:
            raise WebhookForbidden("ses", "topic not configured")
        kind = message.get("Type")
        if kind == "SubscriptionConfirmation":
            await self._confirm(message)
            return Report([])
        if kind != "Notification":
            return Report([])
        return Report(list(ses_events(_json("ses", str(message.get("Message", "")).encode()))))

    async def _confirm(self, message: Mapping[str, Any]) -> None:
        # The topic is one the operator configured and the request is signed by SNS: confirming
        # it is what the operator wants, and saves them copying a URL out of a log.
        url = str(message.get("SubscribeURL", ""))
        if not is_sns_url(url, certificate=False):
            raise WebhookForbidden("ses", "SubscribeURL is not an SNS URL")
        await self.fetch(url)
        log.info("webhook.ses.subscription_confirmed", topic=message.get("TopicArn"))


def ses_events(notification: Any) -> Iterable[ProviderEvent]:
    """Bounces and complaints of an SES notification (or event publishing) message."""
    if not isinstance(notification, dict):
        raise WebhookPayloadError("ses", "notification is not an object")
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = _object(notification.get("mail"))
    message_id = _ses_message_id(mail)
    source = _str(mail.get("source"))
    if kind == "Bounce":
        bounce = _object(notification.get("bounce"))
        hard = bounce.get("bounceType") == "Permanent"
        for item in _list(bounce.get("bouncedRecipients")):
            recipient = _object(item)
            diagnostic = str(recipient.get("diagnosticCode") or recipient.get("status") or "")
            yield ProviderEvent(
                "hard" if hard else "soft",
                recipient=_str(recipient.get("emailAddress")),
                message_id=message_id,
                return_path=source,
                code=_code(diagnostic),
                description=f"ses {bounce.get('bounceSubType', '')}: {diagnostic}"[:500],
            )
    elif kind == "Complaint":
        complaint = _object(notification.get("complaint"))
        if complaint.get("complaintFeedbackType") == "not-spam":
            return
        for item in _list(complaint.get("complainedRecipients")):
            recipient = _object(item)
            yield ProviderEvent(
                "complaint",
                recipient=_str(recipient.get("emailAddress")),
                message_id=message_id,
                return_path=source,
                description="complaint: ses",
            )


def _ses_message_id(mail: Mapping[str, Any]) -> str | None:
    common = _object(mail.get("commonHeaders"))
    candidates = [str(common.get("messageId") or "")]
    for header in _list(mail.get("headers")):
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            candidates.append(str(header.get("value") or ""))
    return " ".join(candidate for candidate in candidates if candidate) or None


# --- Postmark -----------------------------------------------------------------------------


@dataclass
class PostmarkReader:
    """Postmark bounce and spam complaint webhooks, authenticated with HTTP Basic."""

    user: str
    password: str

    async def read(self, headers: Mapping[str, str], body: bytes) -> Report:
        """Check the credentials, then read one bounce or spam complaint record."""
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        given = headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Basic {expected}".encode()):
            raise WebhookUnauthorized("postmark", "credentials missing or wrong")
        record = _json("postmark", body)
        if not isinstance(record, dict):
            raise WebhookPayloadError("postmark", "not a Postmark record")
        return Report(list(postmark_events(record)))


def postmark_events(record: Mapping[str, Any]) -> Iterable[ProviderEvent]:
    """The event of one Postmark webhook record (Bounce or SpamComplaint)."""
    record_type = record.get("RecordType")
    bounce_type = str(record.get("Type") or "")
    if record_type == "SpamComplaint" or bounce_type == "SpamComplaint":
        kind: EventKind = "complaint"
    elif record_type == "Bounce":
        kind = "hard" if bounce_type in _POSTMARK_HARD else "soft"
    else:
        return
    # Postmark's MessageID is its own; ours can come back in metadata or the bounce's content.
    metadata = _object(record.get("Metadata"))
    quoted = " ".join(
        [*(str(value) for value in metadata.values()), str(record.get("Content") or "")]
    )
    details = str(record.get("Details") or record.get("Description") or "")
    yield ProviderEvent(
        kind,
        recipient=_str(record.get("Email")),
        message_id=quoted.strip() or None,
        code=_code(details),
        description=f"postmark {bounce_type}: {details}"[:500],
    )


# --- SendGrid -----------------------------------------------------------------------------


@dataclass
class SendGridReader:
    """SendGrid's signed Event Webhook (ECDSA P-256 over timestamp + body)."""

    public_key: ec.EllipticCurvePublicKey
    max_age: float

    @classmethod
    def from_setting(cls, value: str, max_age: float) -> SendGridReader:
        """Load the verification key as SendGrid shows it (base64 DER) or as PEM."""
        try:
            if "BEGIN PUBLIC KEY" in value:
                key = serialization.load_pem_public_key(value.encode())
            else:
                key = serialization.load_der_public_key(base64.b64decode(value, validate=True))
        except (ValueError, binascii.Error) as exc:
            raise SettingsError(
                "MAILER_WEBHOOK_SENDGRID_PUBLIC_KEY", "is not a public key"
            ) from exc
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise SettingsError("MAILER_WEBHOOK_SENDGRID_PUBLIC_KEY", "must be an ECDSA key")
        return cls(key, max_age)

    async def read(self, headers: Mapping[str, str], body: bytes) -> Report:
        """Verify the signature and its timestamp, then read the batch of events."""
        timestamp = headers.get(SENDGRID_TIMESTAMP, "")
        try:
            signature = base64.b64decode(headers.get(SENDGRID_SIGNATURE, ""), validate=True)
            self.public_key.verify(signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        except (binascii.Error, InvalidSignature) as exc:
            raise WebhookForbidden("sendgrid", "signature does not verify") from exc
        _fresh("sendgrid", timestamp, self.max_age)
        events = _json("sendgrid", body)
        if not isinstance(events, list):
            raise WebhookPayloadError("sendgrid", "not a list of events")
        return Report([event for item in events for event in sendgrid_events(item)])


def sendgrid_events(item: Any) -> Iterable[ProviderEvent]:
    """The bounce or complaint in one SendGrid event (others are ignored)."""
    if not isinstance(item, dict):
        return
    name = item.get("event")
    if name == "spamreport":
        kind: EventKind = "complaint"
    elif name == "bounce":
        # type "blocked" is a refusal of this message (reputation, content), not a dead address.
        status = str(item.get("status") or "5")
        hard = item.get("type", "bounce") == "bounce" and status.startswith("5")
        kind = "hard" if hard else "soft"
    else:
        return
    reason = str(item.get("reason") or "")
    yield ProviderEvent(
        kind,
        recipient=_str(item.get("email")),
        message_id=_str(item.get("smtp-id")),
        code=_code(reason),
        description=f"sendgrid {name} {item.get('status', '')}: {reason}"[:500],
    )


# --- Mailgun ------------------------------------------------------------------------------


@dataclass
class MailgunReader:
    """Mailgun webhooks: HMAC-signed timestamp and token, each token accepted once."""

    signing_key: bytes
    redis: Redis
    max_age: float

    async def read(self, headers: Mapping[str, str], body: bytes) -> Report:
        """Verify signature, age and novelty of the token, then read the event."""
        payload = _json("mailgun", body)
        signed = payload.get("signature") if isinstance(payload, dict) else None
        if not isinstance(signed, dict):
            raise WebhookPayloadError("mailgun", "signature missing")
        timestamp, token = str(signed.get("timestamp", "")), str(signed.get("token", ""))
        expected = hmac.new(self.signing_key, (timestamp + token).encode(), hashlib.sha256)
        if not token or not hmac.compare_digest(
            expected.hexdigest(), str(signed.get("signature", ""))
        ):
            raise WebhookForbidden("mailgun", "signature does not verify")
        _fresh("mailgun", timestamp, self.max_age)
        key = MAILGUN_TOKEN_PREFIX + hashlib.sha256(token.encode()).hexdigest()
        # Kept a little longer than a timestamp stays fresh, so no replay outlives its key.
        if not await self.redis.set(key, b"1", nx=True, ex=int(self.max_age * 2) + 1):
            raise WebhookForbidden("mailgun", "token already used")

        async def undo() -> None:
            await self.redis.delete(key)

        return Report(list(mailgun_events(payload.get("event-data"))), undo)


def mailgun_events(data: Any) -> Iterable[ProviderEvent]:
    """The bounce or complaint in Mailgun's event-data."""
    if not isinstance(data, dict):
        raise WebhookPayloadError("mailgun", "event-data missing")
    name = data.get("event")
    if name == "complained":
        kind: EventKind = "complaint"
    elif name == "failed":
        kind = "hard" if data.get("severity") == "permanent" else "soft"
    else:
        return
    headers = _object(_object(data.get("message")).get("headers"))
    status = _object(data.get("delivery-status"))
    envelope = _object(data.get("envelope"))
    text = str(status.get("description") or status.get("message") or data.get("reason") or "")
    yield ProviderEvent(
        kind,
        recipient=_str(data.get("recipient")),
        message_id=_str(headers.get("message-id")),
        return_path=_str(envelope.get("sender")),
        code=_code(status.get("code"), text),
        description=f"mailgun {name} {data.get('reason', '')}: {text}"[:500],
    )
