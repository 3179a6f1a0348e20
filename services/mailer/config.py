"""Tuning knobs of the mailer process, with defaults that suit one small server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from services.mailer.relays import parse_relays
from services.mailer.send_rate import parse_domain_limits
from services.mailer.signing import DkimSigner
from shared.errors import SettingsError
from shared.settings import Secret

PREFIX = "BREVDUE_MAILER_"


@dataclass(frozen=True)
class MailerOptions:
    """How the mailer batches, retries and connects; read from ``BREVDUE_MAILER_*``."""

    batch_size: int = 500  # ledger rows per deliver_batch job
    # Subscriber ids one fan-out step covers: one INSERT … SELECT and one transaction, its
    # batches enqueued in one Redis pipeline.
    fanout_window: int = 20_000
    chunk_size: int = 100  # rows claimed ('sending') at a time inside a batch
    smtp_connections: int = 10  # persistent connections for campaign mail
    transactional_connections: int = 2  # separate, so a campaign never starves confirmations
    # Batches one process runs at once. A batch waits on the database and the relay between its
    # chunks; at 4 the two mailer processes of bench.delivery kept half their cores idle (44-46%
    # of the client ceiling on PostgreSQL), at 8 they reach 52-53%. At most this many chunks
    # per process are claimed at a moment (the duplicates a killed process can cause).
    bulk_max_jobs: int = 8
    transactional_max_jobs: int = 10
    job_timeout: float = 60.0  # a killed worker's job is re-run after this + 10 s
    fanout_budget: float = 30.0  # seconds one start_campaign run fans out before it continues
    max_attempts: int = 8  # SMTP attempts per recipient before a temporary failure is final
    retry_base: float = 30.0  # seconds; doubled per attempt, with jitter
    retry_cap: float = 3600.0
    poll_delay: float = 0.5
    burst_poll_delay: float = 0.05
    health_check_interval: float = 30.0
    shutdown_grace: float = 20.0  # seconds in-flight jobs get to finish on SIGTERM
    idle_probe_after: float = 10.0  # NOOP a pooled connection idle for longer than this
    # Campaign mail over the lean pipelining client (smtp_wire), which passes the same protocol
    # tests as aiosmtplib (tests/mailer/test_smtp_protocol.py) at about a third of its CPU time
    # per message; 0: over aiosmtplib (relays that only take AUTH CRAM-MD5 or XOAUTH2).
    smtp_pipelining: int = 1
    relays: str = ""  # "smtp://a:25?weight=3,smtps://u:p@b?weight=1"; empty: BREVDUE_SMTP_URL
    relay_cooldown: float = 30.0  # seconds a relay that refused connections is skipped
    metrics_port: int = 0  # 0 = no metrics endpoint
    rate_limit: int = 0  # campaign messages per second over all processes; 0 = no limit
    domain_rate_limit: int = 0  # per recipient domain, unless listed in domain_limits
    domain_limits: str = ""  # "gmail.com=50,outlook.com=20": messages per second per domain
    rate_limit_per_hour: int = 0  # campaign messages per sliding hour over all processes; 0 off
    domain_rate_limit_per_minute: int = 0  # per domain and sliding minute, unless listed below
    domain_limits_per_minute: str = ""  # "gmail.com=100,outlook.com=50": per sliding minute
    reconcile_every_minutes: int = 1
    reconcile_every_seconds: int = 0  # > 0: every this many seconds instead (a divisor of 60)
    reconcile_grace: float = 30.0  # seconds beyond a job's life before a 'sending' row is stuck
    bounce_domain: str = ""  # set: campaign mail leaves with VERP return paths at this domain
    bounce_host: str = "127.0.0.1"  # the bounce listener's address (0.0.0.0 to face an MX)
    bounce_port: int = 0  # 0 = no bounce listener in this process
    pause_failure_rate: float = 0.25  # pause a campaign when this share of its mail fails; 0 off
    pause_min_sample: int = 100  # ... judged only once this many have been sent or failed
    queue_depth_interval: float = 5.0  # seconds between queue depth readings (with metrics)
    # DKIM signing: on when all three are set (the key file holds an RSA key in PEM).
    dkim_domain: str = ""
    dkim_selector: str = ""
    dkim_key_file: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailerOptions:
        """Defaults overridden by ``BREVDUE_MAILER_<FIELD>`` variables."""
        env = os.environ if environ is None else environ
        values: dict[str, int | float | str] = {}
        for option in fields(cls):
            raw = env.get(PREFIX + option.name.upper())
            if raw is None or not raw.strip():
                continue
            if option.type == "str":
                values[option.name] = raw.strip()
                continue
            try:
                number: int | float = int(raw) if option.type == "int" else float(raw)
            except ValueError as exc:
                raise SettingsError("MAILER_" + option.name.upper(), "must be a number") from exc
            if number < 0:
                raise SettingsError("MAILER_" + option.name.upper(), "must not be negative")
            values[option.name] = number
        for name in ("domain_limits", "domain_limits_per_minute"):
            try:
                parse_domain_limits(str(values.get(name, "")))
            except ValueError as exc:
                raise SettingsError("MAILER_" + name.upper(), str(exc)) from exc
        parse_relays(str(values.get("relays", "")))  # raises SettingsError naming the variable
        options = cls(**values)  # type: ignore[arg-type]
        load_signer(options)  # a bad key fails at start, not at the first message
        return options


def load_signer(options: MailerOptions) -> DkimSigner | None:
    """The DKIM signer the options describe, None when DKIM is off; SettingsError if unusable."""
    parts = {
        "DKIM_DOMAIN": options.dkim_domain,
        "DKIM_SELECTOR": options.dkim_selector,
        "DKIM_KEY_FILE": options.dkim_key_file,
    }
    if not any(parts.values()):
        return None
    missing = [name for name, value in parts.items() if not value]
    if missing:
        raise SettingsError(
            "MAILER_" + missing[0], "must be set too: DKIM needs a domain, a selector and a key"
        )
    try:
        return DkimSigner.from_file(
            options.dkim_domain, options.dkim_selector, options.dkim_key_file
        )
    except OSError as exc:
        raise SettingsError("MAILER_DKIM_KEY_FILE", f"cannot be read: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        reason = f"does not hold a usable RSA private key in PEM ({str(exc).splitlines()[0]})"
        raise SettingsError("MAILER_DKIM_KEY_FILE", reason) from exc


WEBHOOK_PREFIX = PREFIX + "WEBHOOK_"


@dataclass(frozen=True)
class WebhookSettings:
    """The bounce webhooks' address and each provider's credentials (``BREVDUE_MAILER_WEBHOOK_*``).

    A provider without credentials is switched off: its route answers 404.
    """

    host: str = "127.0.0.1"
    port: int = 0  # 0 = no webhook server
    ses_topics: tuple[str, ...] = ()  # SNS topic ARNs we subscribed; others are refused
    postmark_user: str = ""
    postmark_password: Secret = field(default_factory=lambda: Secret(""))
    sendgrid_public_key: str = ""  # the verification key SendGrid shows (base64 DER or PEM)
    mailgun_signing_key: Secret = field(default_factory=lambda: Secret(""))
    max_age: float = 300.0  # seconds a signed SendGrid or Mailgun request stays acceptable

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookSettings:
        """Read ``BREVDUE_MAILER_WEBHOOK_{HOST,PORT,SES_TOPICS,POSTMARK_USER,…}``."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(WEBHOOK_PREFIX + name, "").strip()

        port = get("PORT") or "0"
        if not port.isdigit() or int(port) > 65535:
            raise SettingsError("MAILER_WEBHOOK_PORT", "must be a port number")
        user, password = get("POSTMARK_USER"), get("POSTMARK_PASSWORD")
        if bool(user) != bool(password):
            raise SettingsError(
                "MAILER_WEBHOOK_POSTMARK_PASSWORD", "and POSTMARK_USER must be set together"
            )
        topics = tuple(arn.strip() for arn in get("SES_TOPICS").split(",") if arn.strip())
        return cls(
            host=get("HOST") or cls.host,
            port=int(port),
            ses_topics=topics,
            postmark_user=user,
            postmark_password=Secret(password),
            sendgrid_public_key=get("SENDGRID_PUBLIC_KEY"),
            mailgun_signing_key=Secret(get("MAILGUN_SIGNING_KEY")),
        )
