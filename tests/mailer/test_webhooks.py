"""Provider webhooks over real HTTP: signatures checked, events mapped to ledger rows, and the
subscriptions worker acting on them. Keys are generated here; SNS certificates are served by an
injected fetcher (the one boundary we cannot reach: AWS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from redis.asyncio import Redis

from services.mailer.config import WebhookSettings
from services.mailer.inbound import InboundRuntime
from services.mailer.mime import campaign_message_id
from services.mailer.webhooks import create_app
from services.subscriptions import worker as subscriptions_worker
from shared.db import create_engine
from shared.queues import SUBSCRIPTIONS_QUEUE
from shared.schema import deliveries, subscribers, subscriptions
from shared.settings import Secret, Settings
from tests.mailer.seed import NOW, Person, ledger, seed

TOPIC = "arn:aws:sns:eu-north-1:123456789012:brevdue-ses"
CERT_URL = "https://sns.eu-north-1.amazonaws.com/SimpleNotificationService-abc123.pem"
MAILGUN_KEY = "key-mailgun-signing-0123456789abcdef"
POSTMARK = ("postmark-hook", "a long random password")
DOMAIN = "kultur.test"


@dataclass
class Keys:
    """Keys made for this test run: SNS signing (RSA + self-signed cert), SendGrid (P-256)."""

    sns: rsa.RSAPrivateKey
    sns_pem: bytes
    sendgrid: ec.EllipticCurvePrivateKey
    fetched: list[str] = field(default_factory=list)

    async def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.sns_pem if url == CERT_URL else b"confirmed"


@pytest.fixture(scope="module")
def keys() -> Keys:
    sns = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(sns.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(sns, hashes.SHA256())
    )
    return Keys(
        sns=sns,
        sns_pem=cert.public_bytes(serialization.Encoding.PEM),
        sendgrid=ec.generate_private_key(ec.SECP256R1()),
    )


def _hooks(keys: Keys, **overrides: Any) -> WebhookSettings:
    der = keys.sendgrid.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    values: dict[str, Any] = {
        "ses_topics": (TOPIC,),
        "postmark_user": POSTMARK[0],
        "postmark_password": Secret(POSTMARK[1]),
        "sendgrid_public_key": base64.b64encode(der).decode(),
        "mailgun_signing_key": Secret(MAILGUN_KEY),
    }
    values.update(overrides)
    return WebhookSettings(**values)


@dataclass
class World:
    """A campaign 'sent' to three residents, the webhook app, and an HTTP client."""

    settings: Settings
    http: httpx.AsyncClient
    campaign: int
    ids: dict[str, int]

    def message_id(self, email: str) -> str:
        return campaign_message_id(self.campaign, self.ids[email], DOMAIN)

    async def statuses(self) -> dict[str, str]:
        rows = await ledger(self.settings.database_url, self.campaign)
        return {email: str(rows[i]["status"]) for email, i in self.ids.items()}


PEOPLE = [
    Person("maja@example.dk", "Maja", "da", {"kultur": "confirmed", "musik": "confirmed"}),
    Person("sven@example.se", "Sven", "sv", {"kultur": "confirmed"}),
    Person("ok@example.dk", "Ok", "da", {"kultur": "confirmed"}),
]


async def _world(settings: Settings, live_server: Any, app_of: Any) -> AsyncIterator[World]:
    campaign, ids = await seed(settings.database_url, PEOPLE, campaign_lists_=("kultur",))
    engine = create_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(deliveries),
            [
                {
                    "campaign_id": campaign,
                    "subscriber_id": subscriber_id,
                    "status": "sent",
                    "attempts": 1,
                    "message_id": campaign_message_id(campaign, subscriber_id, DOMAIN),
                    "queued_at": NOW,
                    "updated_at": NOW,
                    "sent_at": NOW,
                }
                for subscriber_id in ids.values()
            ],
        )
    await engine.dispose()
    runtime = await InboundRuntime.open(settings)
    try:
        async with (
            live_server(app_of(runtime)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        ):
            yield World(settings, http, campaign, ids)
    finally:
        await runtime.close()


@pytest.fixture
async def world(
    settings: Settings, live_server: Any, redis: Redis, keys: Keys
) -> AsyncIterator[World]:
    keys.fetched.clear()
    async for value in _world(
        settings, live_server, lambda runtime: create_app(runtime, _hooks(keys), keys.fetch)
    ):
        yield value


async def _subscriber_state(settings: Settings, subscriber_id: int) -> tuple[str, set[str]]:
    engine = create_engine(settings.database_url)
    async with engine.connect() as conn:
        status = (
            await conn.execute(
                sa.select(subscribers.c.status).where(subscribers.c.id == subscriber_id)
            )
        ).scalar_one()
        lists = (
            await conn.execute(
                sa.select(subscriptions.c.status).where(
                    subscriptions.c.subscriber_id == subscriber_id
                )
            )
        ).scalars()
        result = (str(status), {str(value) for value in lists})
    await engine.dispose()
    return result


# --- Amazon SES over SNS ------------------------------------------------------------------


def _sns(keys: Keys, message: dict[str, Any] | str, *, version: str = "2", **extra: Any) -> bytes:
    """An SNS HTTP notification, signed as SNS signs it (the canonical text per AWS docs)."""
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": "2026-11-27T12:00:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.eu-north-1.amazonaws.com/?Action=Unsubscribe&x=1",
    }
    envelope.update(extra)
    if envelope["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{name}\n{envelope[name]}\n" for name in names if name in envelope)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS v1
    signature = keys.sns.sign(text.encode(), padding.PKCS1v15(), algorithm)
    envelope.setdefault("Signature", base64.b64encode(signature).decode())
    return json.dumps(envelope).encode()


def _ses_bounce(recipient: str, bounce_type: str, message_id: str | None) -> dict[str, Any]:
    common = {"from": ["nyhedsbrev@kultur.test"], "to": [recipient], "subject": "Nyt"}
    if message_id:
        common["messageId"] = message_id
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2026-11-27T12:00:00.000Z",
            "feedbackId": "0100017",
            "reportingMTA": "dsn; a8-50.smtp-out.amazonses.com",
        },
        "mail": {
            "timestamp": "2026-11-27T11:59:00.000Z",
            "source": "nyhedsbrev@kultur.test",
            "messageId": "0100017c-ses-own-id",
            "destination": [recipient],
            "headersTruncated": False,
            "headers": [{"name": "Message-ID", "value": message_id or "<other@x>"}],
            "commonHeaders": common,
        },
    }


async def test_ses_hard_bounce_by_message_id_stops_the_subscriber(world: World, keys: Keys) -> None:
    maja = "maja@example.dk"
    # SES reports a rewritten recipient spelling; our Message-ID identifies the row anyway.
    payload = _ses_bounce("MAJA@EXAMPLE.DK", "Permanent", world.message_id(maja))
    response = await world.http.post(
        "/webhooks/ses",
        content=_sns(keys, payload),
        headers={"x-amz-sns-message-type": "Notification", "content-type": "text/plain"},
    )

    assert (response.status_code, response.json()) == (200, {"matched": 1})
    assert keys.fetched == [CERT_URL]
    assert (await world.statuses())[maja] == "bounced"
    await subscriptions_worker.run_worker(world.settings, burst=True)
    assert await _subscriber_state(world.settings, world.ids[maja]) == ("bounced", {"confirmed"})


async def test_ses_complaint_signature_v1_found_by_recipient_unsubscribes(
    world: World, keys: Keys
) -> None:
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            # Another spelling of the address: found through its identity key all the same.
            "complainedRecipients": [{"emailAddress": "SVEN@Example.SE"}],
            "complaintFeedbackType": "abuse",
            "timestamp": "2026-11-27T12:00:00.000Z",
        },
        "mail": {"source": "nyhedsbrev@kultur.test", "messageId": "ses-own", "headers": []},
    }
    response = await world.http.post("/webhooks/ses", content=_sns(keys, complaint, version="1"))

    assert (response.status_code, response.json()) == (200, {"matched": 1})
    await subscriptions_worker.run_worker(world.settings, burst=True)
    sven = world.ids["sven@example.se"]
    assert await _subscriber_state(world.settings, sven) == ("active", {"unsubscribed"})


async def test_ses_transient_bounce_changes_nothing(world: World, keys: Keys, redis: Redis) -> None:
    payload = _ses_bounce("ok@example.dk", "Transient", world.message_id("ok@example.dk"))
    response = await world.http.post("/webhooks/ses", content=_sns(keys, payload))

    assert (response.status_code, response.json()) == (200, {"matched": 0})
    assert set((await world.statuses()).values()) == {"sent"}
    assert await redis.zcard(SUBSCRIPTIONS_QUEUE) == 0


@pytest.mark.parametrize(
    "cert_url",
    [
        "http://sns.eu-north-1.amazonaws.com/cert.pem",
        "https://sns.eu-north-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.eu-north-1.amazonaws.com/cert.pem",
        "https://sns.eu-north-1.amazonaws.com@evil.example/cert.pem",
        "https://sns.eu-north-1.amazonaws.com:8443/cert.pem",
        "https://sns.eu-north-1.amazonaws.com/cert.txt",
    ],
)
async def test_ses_certificates_only_from_sns(world: World, keys: Keys, cert_url: str) -> None:
    payload = _ses_bounce("ok@example.dk", "Permanent", world.message_id("ok@example.dk"))
    response = await world.http.post(
        "/webhooks/ses", content=_sns(keys, payload, SigningCertURL=cert_url)
    )

    assert response.status_code == 403
    assert keys.fetched == []


async def test_ses_refuses_forgeries_foreign_topics_and_junk(world: World, keys: Keys) -> None:
    payload = _ses_bounce("ok@example.dk", "Permanent", world.message_id("ok@example.dk"))
    tampered = json.loads(_sns(keys, payload))
    tampered["Message"] = tampered["Message"].replace("ok@example.dk", "maja@example.dk")
    foreign = _sns(keys, payload, TopicArn="arn:aws:sns:eu-north-1:999999999999:someone-else")

    answers = [
        (await world.http.post("/webhooks/ses", json=tampered)).status_code,
        (await world.http.post("/webhooks/ses", content=foreign)).status_code,
        (
            await world.http.post("/webhooks/ses", content=_sns(keys, payload, version="3"))
        ).status_code,
        (await world.http.post("/webhooks/ses", content=b"{not json")).status_code,
        (await world.http.post("/webhooks/ses", content=b"[1, 2]")).status_code,
        (await world.http.post("/webhooks/ses", content=_sns(keys, "not json"))).status_code,
    ]

    assert answers == [403, 403, 403, 400, 400, 400]
    assert set((await world.statuses()).values()) == {"sent"}


async def test_ses_subscription_is_confirmed_through_the_fetcher(world: World, keys: Keys) -> None:
    subscribe = "https://sns.eu-north-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336"
    body = _sns(
        keys,
        "You have chosen to subscribe to the topic ...",
        Type="SubscriptionConfirmation",
        Token="2336",
        SubscribeURL=subscribe,
    )
    response = await world.http.post("/webhooks/ses", content=body)

    assert response.status_code == 200
    assert keys.fetched == [CERT_URL, subscribe]


# --- Postmark -----------------------------------------------------------------------------


def _postmark_bounce(email: str, kind: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": kind,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "campaign",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": metadata,
        "ServerID": 23,
        "MessageStream": "broadcast",
        "Description": "The server was unable to deliver your message (ex: unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "nyhedsbrev@kultur.test",
        "BouncedAt": "2026-11-27T12:00:00.0000000Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Nyt fra Kultur",
    }


async def test_postmark_needs_its_basic_credentials(world: World) -> None:
    body = _postmark_bounce("ok@example.dk", "HardBounce", {})
    missing = await world.http.post("/webhooks/postmark", json=body)
    wrong = await world.http.post("/webhooks/postmark", json=body, auth=(POSTMARK[0], "guess"))
    junk = await world.http.post("/webhooks/postmark", content=b"<xml/>", auth=POSTMARK)

    assert (missing.status_code, wrong.status_code, junk.status_code) == (401, 401, 400)
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert set((await world.statuses()).values()) == {"sent"}


async def test_postmark_hard_bounce_complaint_and_soft_bounce(world: World) -> None:
    hard = _postmark_bounce(
        "maja@example.dk", "HardBounce", {"message-id": world.message_id("maja@example.dk")}
    )
    complaint = {
        **_postmark_bounce("sven@example.se", "SpamComplaint", {}),
        "RecordType": "SpamComplaint",
        "TypeCode": 512,
    }
    soft = _postmark_bounce("ok@example.dk", "Transient", {})

    answers = [
        (await world.http.post("/webhooks/postmark", json=body, auth=POSTMARK)).json()
        for body in (hard, complaint, soft)
    ]

    assert answers == [{"matched": 1}, {"matched": 1}, {"matched": 0}]
    assert await world.statuses() == {
        "maja@example.dk": "bounced",
        "sven@example.se": "bounced",
        "ok@example.dk": "sent",
    }
    await subscriptions_worker.run_worker(world.settings, burst=True)
    assert (await _subscriber_state(world.settings, world.ids["maja@example.dk"]))[0] == "bounced"
    sven = await _subscriber_state(world.settings, world.ids["sven@example.se"])
    assert sven == ("active", {"unsubscribed"})


# --- SendGrid -----------------------------------------------------------------------------


def _sendgrid(keys: Keys, events: list[dict[str, Any]] | bytes, age: int = 0) -> dict[str, Any]:
    body = events if isinstance(events, bytes) else json.dumps(events).encode()
    timestamp = str(int(time.time()) - age)
    signature = keys.sendgrid.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        },
    }


def _sendgrid_event(email: str, event: str, **fields: Any) -> dict[str, Any]:
    return {
        "email": email,
        "timestamp": int(time.time()),
        "event": event,
        "sg_event_id": "sg_event_id",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **fields,
    }


async def test_sendgrid_signed_batch(world: World, keys: Keys) -> None:
    events = [
        _sendgrid_event(
            "maja@example.dk",
            "bounce",
            type="bounce",
            status="5.1.1",
            reason="550 5.1.1 unknown user",
            **{"smtp-id": world.message_id("maja@example.dk")},
        ),
        _sendgrid_event("sven@example.se", "spamreport"),
        _sendgrid_event("ok@example.dk", "bounce", type="blocked", status="5.7.1", reason="spam"),
        _sendgrid_event("ok@example.dk", "delivered", response="250 OK"),
    ]
    response = await world.http.post("/webhooks/sendgrid", **_sendgrid(keys, events))

    assert (response.status_code, response.json()) == (200, {"matched": 2})
    assert await world.statuses() == {
        "maja@example.dk": "bounced",
        "sven@example.se": "bounced",
        "ok@example.dk": "sent",
    }


async def test_sendgrid_refuses_bad_signatures_old_timestamps_and_junk(
    world: World, keys: Keys
) -> None:
    events = [_sendgrid_event("ok@example.dk", "bounce", type="bounce", status="5.1.1")]
    forged = _sendgrid(keys, events)
    forged["content"] = forged["content"].replace(b"ok@", b"maja@")
    other_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _sendgrid(Keys(keys.sns, keys.sns_pem, other_key), events)

    answers = [
        (await world.http.post("/webhooks/sendgrid", **forged)).status_code,
        (await world.http.post("/webhooks/sendgrid", **stranger)).status_code,
        (await world.http.post("/webhooks/sendgrid", **_sendgrid(keys, events, 600))).status_code,
        (await world.http.post("/webhooks/sendgrid", content=json.dumps(events))).status_code,
        (await world.http.post("/webhooks/sendgrid", **_sendgrid(keys, b"{oops"))).status_code,
        (await world.http.post("/webhooks/sendgrid", **_sendgrid(keys, b'{"a": 1}'))).status_code,
    ]

    assert answers == [403, 403, 403, 403, 400, 400]
    assert set((await world.statuses()).values()) == {"sent"}


# --- Mailgun ------------------------------------------------------------------------------


def _mailgun(event_data: dict[str, Any], *, age: int = 0, key: str = MAILGUN_KEY) -> bytes:
    timestamp = str(int(time.time()) - age)
    token = secrets.token_hex(25)  # Mailgun's tokens are 50 random characters
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }
    return json.dumps(body).encode()


def _mailgun_failed(email: str, severity: str, message_id: str | None) -> dict[str, Any]:
    return {
        "event": "failed",
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": time.time(),
        "severity": severity,
        "reason": "bounce",
        "recipient": email,
        "recipient-domain": email.partition("@")[2],
        "envelope": {"sender": "nyhedsbrev@kultur.test", "transport": "smtp"},
        "message": {"headers": {"message-id": (message_id or "x@mg").strip("<>")}},
        "delivery-status": {
            "code": 550,
            "message": "5.1.1 The email account that you tried to reach does not exist",
            "description": "",
            "attempt-no": 1,
        },
    }


async def test_mailgun_failed_permanent_and_complained(world: World) -> None:
    hard = _mailgun(
        _mailgun_failed("maja@example.dk", "permanent", world.message_id("maja@example.dk"))
    )
    complained = _mailgun(
        {"event": "complained", "recipient": "sven@example.se", "timestamp": time.time()}
    )
    temporary = _mailgun(_mailgun_failed("ok@example.dk", "temporary", None))

    answers = [
        (await world.http.post("/webhooks/mailgun", content=body)).json()
        for body in (hard, complained, temporary)
    ]

    assert answers == [{"matched": 1}, {"matched": 1}, {"matched": 0}]
    assert (await world.statuses())["maja@example.dk"] == "bounced"
    assert (await world.statuses())["ok@example.dk"] == "sent"


async def test_mailgun_refuses_replays_forgeries_and_old_requests(world: World) -> None:
    event = _mailgun_failed("ok@example.dk", "permanent", world.message_id("ok@example.dk"))
    genuine = _mailgun(event)

    answers = [
        (await world.http.post("/webhooks/mailgun", content=genuine)).status_code,
        (await world.http.post("/webhooks/mailgun", content=genuine)).status_code,  # replay
        (
            await world.http.post("/webhooks/mailgun", content=_mailgun(event, key="guessed"))
        ).status_code,
        (await world.http.post("/webhooks/mailgun", content=_mailgun(event, age=600))).status_code,
        (await world.http.post("/webhooks/mailgun", content=b'{"event-data": {}}')).status_code,
        (await world.http.post("/webhooks/mailgun", content=b"\xff\xfe")).status_code,
    ]

    assert answers == [200, 403, 403, 403, 400, 400]


# --- the app ------------------------------------------------------------------------------


@pytest.fixture
async def bare(
    settings: Settings, live_server: Any, redis: Redis, keys: Keys
) -> AsyncIterator[World]:
    """The app with no provider configured."""
    async for value in _world(
        settings, live_server, lambda runtime: create_app(runtime, WebhookSettings(), keys.fetch)
    ):
        yield value


async def test_unconfigured_providers_answer_404_and_health_answers(bare: World) -> None:
    answers = [
        (await bare.http.post(f"/webhooks/{name}", content=b"{}")).status_code
        for name in ("ses", "postmark", "sendgrid", "mailgun", "elsewhere")
    ]

    assert answers == [404] * 5
    assert (await bare.http.get("/health/live")).status_code == 200
    assert (await bare.http.get("/health/ready")).status_code == 200
