"""Typed settings read from ``BREVDUE_*`` environment variables, validated once at start-up."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from shared.errors import SettingsError

PREFIX = "BREVDUE_"

StartTLS = Literal["auto", "required", "off"]
# When a sign-up that names no member site needs a proof of work (see Settings).
SitelessProofOfWork = Literal["off", "sites", "always"]


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value; call only where it is handed to a library."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpSettings:
    """One SMTP relay, parsed from an ``smtp://`` or ``smtps://`` URL."""

    host: str
    port: int
    username: str | None = None
    password: Secret = field(default_factory=lambda: Secret(""))
    use_tls: bool = False
    start_tls: StartTLS = "auto"
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Parse ``smtp[s]://[user:password@]host[:port][?starttls=required|off|auto]``.

        ``auto`` upgrades when the relay offers STARTTLS; with a user name and a relay that is
        not on this machine it means ``required``.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise SettingsError("SMTP_URL", "scheme must be smtp:// or smtps://")
        if not parts.hostname:
            raise SettingsError("SMTP_URL", "a host is required")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError as exc:
            raise SettingsError("SMTP_URL", "the port is not a number from 1 to 65535") from exc
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        start_tls = query.get("starttls", "auto")
        if start_tls not in ("auto", "required", "off"):
            raise SettingsError("SMTP_URL", "starttls must be auto, required or off")
        try:
            timeout = float(query.get("timeout", "30"))
        except ValueError as exc:
            raise SettingsError("SMTP_URL", "timeout must be a number of seconds") from exc
        use_tls = parts.scheme == "smtps"
        if start_tls == "auto" and parts.username and not _is_loopback(parts.hostname):
            # With "auto", a relay that does not offer STARTTLS would be sent the password in
            # plain text: credentials make TLS required unless the URL says starttls=off.
            start_tls = "required"
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=Secret(unquote(parts.password or "")),
            use_tls=use_tls,
            start_tls="off" if use_tls else start_tls,  # type: ignore[arg-type]
            timeout=timeout,
        )


@dataclass(frozen=True)
class Settings:
    """Everything a Brevdue process is configured with."""

    database_url: str = "sqlite+aiosqlite:///var/brevdue.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    smtp: SmtpSettings = field(default_factory=lambda: SmtpSettings("127.0.0.1", 1025))
    secret_keys: tuple[Secret, ...] = ()
    subscriptions_public_url: str = "http://127.0.0.1:8001"
    campaigns_public_url: str = "http://127.0.0.1:8002"
    mail_from: str = "KulturMetropolØresund <nyhedsbrev@localhost>"
    confirm_token_max_age: int = 7 * 24 * 3600
    # How long the link in a self-service data export mail works.
    export_token_max_age: int = 24 * 3600
    # Store the sign-up's IP address with each consent record (off: data minimisation).
    record_consent_ip: bool = False
    # The age of digital consent (GDPR art. 8; 13 in Denmark and Sweden): a youth list's
    # resident younger than this needs a parent's or guardian's confirmation to join.
    age_of_digital_consent: int = 13
    # Proof-of-work difficulty for sites that require it: the largest number a browser may have
    # to try (on average half of it; 50,000 SHA-256 hashes take well under a second).
    altcha_max_number: int = 50_000
    # Whether a sign-up that names no member site needs a proof of work: "off" never, "sites"
    # while any member site requires one (else a bot would dodge that site's setting by
    # dropping its key), "always" always.
    proof_of_work_without_site: SitelessProofOfWork = "sites"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    # Abuse protection of the public sign-up: sliding windows in Redis (count per seconds).
    signup_limit_per_ip: int = 20
    signup_limit_ip_window: int = 600
    signup_limit_per_address: int = 5
    signup_limit_address_window: int = 3600
    confirm_mails_per_address_per_day: int = 3
    # Peers (addresses or networks) whose X-Forwarded-For is believed; empty: none.
    trusted_proxies: tuple[str, ...] = ()
    # Every accepted sign-up (and staff password-reset request) answers no sooner than this, so
    # timing does not tell whether an address was new, pending, confirmed or unsubscribed.
    signup_min_duration: float = 0.15
    check_mx: bool = False
    mx_check_timeout: float = 3.0
    # Nameservers for the MX check ("ip" or "ip:port"); empty: the system resolver.
    mx_check_nameservers: tuple[str, ...] = ()
    purge_unconfirmed_after_days: int = 30
    # How often each campaigns replica looks for scheduled campaigns that are due (seconds).
    schedule_poll_interval: float = 10.0
    # Test sends of campaigns each staff user (or token) may make per hour.
    test_sends_per_hour: int = 20
    # Event feeds of member institutions (services/campaigns/feed_fetch.py): how often each
    # replica looks for feeds that are due, how often a feed is fetched, and the limits of
    # one fetch (whole seconds for the answer, bytes of the body).
    feed_poll_interval: float = 60.0
    feed_fetch_interval: float = 3600.0
    feed_timeout: float = 10.0
    feed_max_bytes: int = 5_000_000
    # Outgoing webhooks: plain http:// to 127.0.0.1 (a receiver on this machine, in tests and
    # local trials); otherwise only https:// to public addresses is ever called.
    webhook_allow_loopback_http: bool = False
    # Waits before the 2nd, 3rd, ... attempt of a delivery (seconds); after the last, it failed.
    webhook_retry_delays: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)
    # Deliveries in a row that exhausted their retries before an endpoint is disabled.
    webhook_disable_after: int = 5
    # How often each campaigns replica looks for deliveries that are due (seconds).
    webhook_poll_interval: float = 1.0
    # One attempt's limit, connection and answer together (seconds).
    webhook_timeout: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment; raise SettingsError naming the bad variable."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(PREFIX + name)
            return value.strip() if value is not None and value.strip() else None

        defaults = cls()
        smtp_url = get("SMTP_URL")
        keys = get("SECRET_KEYS")
        if keys is None:
            raise SettingsError("SECRET_KEYS", "is required (comma-separated; the last one signs)")
        secret_keys = tuple(Secret(k.strip()) for k in keys.split(",") if k.strip())
        if any(len(k.reveal()) < 16 for k in secret_keys):
            raise SettingsError("SECRET_KEYS", "each key must be at least 16 characters long")

        return cls(
            database_url=_database_url(get("DATABASE_URL") or defaults.database_url),
            redis_url=_redis_url(get("REDIS_URL") or defaults.redis_url),
            smtp=SmtpSettings.from_url(smtp_url) if smtp_url else defaults.smtp,
            secret_keys=secret_keys,
            subscriptions_public_url=_http_url(
                "SUBSCRIPTIONS_PUBLIC_URL",
                get("SUBSCRIPTIONS_PUBLIC_URL") or defaults.subscriptions_public_url,
            ),
            campaigns_public_url=_http_url(
                "CAMPAIGNS_PUBLIC_URL",
                get("CAMPAIGNS_PUBLIC_URL") or defaults.campaigns_public_url,
            ),
            mail_from=_mail_from(get("MAIL_FROM") or defaults.mail_from),
            confirm_token_max_age=_positive_int(
                "CONFIRM_TOKEN_MAX_AGE",
                get("CONFIRM_TOKEN_MAX_AGE"),
                defaults.confirm_token_max_age,
            ),
            export_token_max_age=_positive_int(
                "EXPORT_TOKEN_MAX_AGE",
                get("EXPORT_TOKEN_MAX_AGE"),
                defaults.export_token_max_age,
            ),
            record_consent_ip=_flag("RECORD_CONSENT_IP", get("RECORD_CONSENT_IP")),
            age_of_digital_consent=_positive_int(
                "AGE_OF_DIGITAL_CONSENT",
                get("AGE_OF_DIGITAL_CONSENT"),
                defaults.age_of_digital_consent,
            ),
            altcha_max_number=_positive_int(
                "ALTCHA_MAX_NUMBER", get("ALTCHA_MAX_NUMBER"), defaults.altcha_max_number
            ),
            proof_of_work_without_site=_choice(
                "PROOF_OF_WORK_WITHOUT_SITE",
                (get("PROOF_OF_WORK_WITHOUT_SITE") or defaults.proof_of_work_without_site).lower(),
                ("off", "sites", "always"),
            ),  # type: ignore[arg-type]
            log_format=_choice(
                "LOG_FORMAT", get("LOG_FORMAT") or "auto", ("auto", "json", "console")
            ),  # type: ignore[arg-type]
            log_level=_choice(
                "LOG_LEVEL",
                (get("LOG_LEVEL") or "INFO").upper(),
                ("DEBUG", "INFO", "WARNING", "ERROR"),
            ),
            **_abuse_settings(get, defaults),
        )


def _abuse_settings(get: Callable[[str], str | None], defaults: Settings) -> dict[str, Any]:
    """The sign-up protection and clean-up settings, checked like the rest."""
    return {
        "signup_limit_per_ip": _positive_int(
            "SIGNUP_LIMIT_PER_IP", get("SIGNUP_LIMIT_PER_IP"), defaults.signup_limit_per_ip
        ),
        "signup_limit_ip_window": _positive_int(
            "SIGNUP_LIMIT_IP_WINDOW", get("SIGNUP_LIMIT_IP_WINDOW"), defaults.signup_limit_ip_window
        ),
        "signup_limit_per_address": _positive_int(
            "SIGNUP_LIMIT_PER_ADDRESS",
            get("SIGNUP_LIMIT_PER_ADDRESS"),
            defaults.signup_limit_per_address,
        ),
        "signup_limit_address_window": _positive_int(
            "SIGNUP_LIMIT_ADDRESS_WINDOW",
            get("SIGNUP_LIMIT_ADDRESS_WINDOW"),
            defaults.signup_limit_address_window,
        ),
        "confirm_mails_per_address_per_day": _positive_int(
            "CONFIRM_MAILS_PER_DAY",
            get("CONFIRM_MAILS_PER_DAY"),
            defaults.confirm_mails_per_address_per_day,
        ),
        "trusted_proxies": _networks("TRUSTED_PROXIES", get("TRUSTED_PROXIES")),
        "signup_min_duration": _seconds(
            "SIGNUP_MIN_DURATION", get("SIGNUP_MIN_DURATION"), defaults.signup_min_duration, 0.0
        ),
        "check_mx": _flag("CHECK_MX", get("CHECK_MX")),
        "mx_check_timeout": _seconds(
            "MX_CHECK_TIMEOUT", get("MX_CHECK_TIMEOUT"), defaults.mx_check_timeout, 0.1
        ),
        "mx_check_nameservers": _nameservers("MX_CHECK_NAMESERVERS", get("MX_CHECK_NAMESERVERS")),
        "schedule_poll_interval": _seconds(
            "SCHEDULE_POLL_INTERVAL",
            get("SCHEDULE_POLL_INTERVAL"),
            defaults.schedule_poll_interval,
            0.05,
        ),
        "feed_poll_interval": _seconds(
            "FEED_POLL_INTERVAL", get("FEED_POLL_INTERVAL"), defaults.feed_poll_interval, 0.05
        ),
        "feed_fetch_interval": _seconds(
            "FEED_FETCH_INTERVAL", get("FEED_FETCH_INTERVAL"), defaults.feed_fetch_interval, 1.0
        ),
        "feed_timeout": _seconds("FEED_TIMEOUT", get("FEED_TIMEOUT"), defaults.feed_timeout, 0.1),
        "feed_max_bytes": _positive_int(
            "FEED_MAX_BYTES", get("FEED_MAX_BYTES"), defaults.feed_max_bytes
        ),
        "test_sends_per_hour": _positive_int(
            "TEST_SENDS_PER_HOUR", get("TEST_SENDS_PER_HOUR"), defaults.test_sends_per_hour
        ),
        "webhook_allow_loopback_http": _flag(
            "WEBHOOK_ALLOW_LOOPBACK_HTTP", get("WEBHOOK_ALLOW_LOOPBACK_HTTP")
        ),
        "webhook_disable_after": _positive_int(
            "WEBHOOK_DISABLE_AFTER", get("WEBHOOK_DISABLE_AFTER"), defaults.webhook_disable_after
        ),
        "purge_unconfirmed_after_days": _positive_int(
            "PURGE_UNCONFIRMED_AFTER_DAYS",
            get("PURGE_UNCONFIRMED_AFTER_DAYS"),
            defaults.purge_unconfirmed_after_days,
        ),
    }


def _database_url(value: str) -> str:
    if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise SettingsError(
            "DATABASE_URL", "must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    return value


def _redis_url(value: str) -> str:
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError("REDIS_URL", "must be a redis://, rediss:// or unix:// URL")
    return value


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(name, "must be an absolute http:// or https:// URL")
    return value.rstrip("/")


def _mail_from(value: str) -> str:
    if "\r" in value or "\n" in value or "@" not in value:
        raise SettingsError("MAIL_FROM", "must be one address such as 'Name <news@example.org>'")
    return value


def _positive_int(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise SettingsError(name, "must be a whole number") from exc
    if number <= 0:
        raise SettingsError(name, "must be greater than zero")
    return number


def _flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(name, "must be true or false")


def _seconds(name: str, value: str | None, default: float, minimum: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError as exc:
        raise SettingsError(name, "must be a number of seconds") from exc
    if not minimum <= number <= 3600:
        raise SettingsError(name, f"must be from {minimum:g} to 3600 seconds")
    return number


def _networks(name: str, value: str | None) -> tuple[str, ...]:
    """Comma-separated addresses or networks, normalised ("10.0.0.1" -> "10.0.0.1/32")."""
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    try:
        return tuple(str(ipaddress.ip_network(item, strict=False)) for item in items)
    except ValueError as exc:
        raise SettingsError(name, "must be IP addresses or networks such as 10.0.0.0/8") from exc


def _nameservers(name: str, value: str | None) -> tuple[str, ...]:
    """Comma-separated "ip" or "ip:port" ("[ipv6]:port"), checked here, parsed where used."""
    items = tuple(item.strip() for item in (value or "").split(",") if item.strip())
    for item in items:
        host, port = split_host_port(item)
        try:
            ipaddress.ip_address(host)
        except ValueError as exc:
            raise SettingsError(name, "must be IP addresses, each optionally with :port") from exc
        if not 0 < port < 65536:
            raise SettingsError(name, "ports must be from 1 to 65535")
    return items


def split_host_port(item: str, default_port: int = 53) -> tuple[str, int]:
    """Split "ip", "ip:port" or "[ipv6]:port"; a bad port becomes 0."""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif item.count(":") == 1:
        host, _, port_text = item.partition(":")
    else:
        host, port_text = item, ""
    if not port_text:
        return host, default_port
    return host, int(port_text) if port_text.isdigit() else 0


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SettingsError(name, "must be one of " + ", ".join(allowed))
    return value
