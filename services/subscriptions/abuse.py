"""Sign-up abuse protection: client address, honeypot, rate limits, bombing guard, timing."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final

import structlog

from services.subscriptions.errors import RateLimited
from services.subscriptions.mx_check import MxChecker, Verdict
from shared.rate_limit import AttemptWindow, ScriptRunner
from shared.settings import Settings

log = structlog.get_logger(__name__)

HONEYPOT_FIELD: Final = "website"
DAY: Final = 24 * 3600
# One IPv6 client usually holds a whole /64, so that is what is counted.
_IPV6_PREFIX: Final = 64
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[_Network, ...]:
    """The trusted proxies setting as networks (parsed once per setting)."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[_Network]
) -> str:
    """The client's IP: the peer, or when the peer is a trusted proxy, the nearest untrusted
    address in X-Forwarded-For (read right to left, since a client can prepend anything)."""
    address = _parse(peer)
    if address is None:
        return peer or "unknown"
    hops = [item.strip() for value in forwarded_for for item in value.split(",")]
    while _is_trusted(address, trusted) and hops:
        forwarded = _parse(hops.pop())
        if forwarded is None:
            break  # a garbled header: count the last address that is known
        address = forwarded
    return str(address)


def _parse(value: str | None) -> _Address | None:
    try:
        return ipaddress.ip_address((value or "").strip().strip("[]"))
    except ValueError:
        return None


def _is_trusted(address: _Address, trusted: Sequence[_Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def limit_key(client: str) -> str:
    """What the per-client limit counts: the address, or its /64 for IPv6."""
    address = _parse(client)
    if address is None:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{_IPV6_PREFIX}", strict=False))
    return str(address)


def address_key(email: str) -> str:
    """A digest of a normalised address, so Redis never holds addresses themselves."""
    return hashlib.sha256(email.lower().encode()).hexdigest()


def is_honeypot_filled(value: Any) -> bool:
    """True when the field people never see (and bots fill in) has a value."""
    if value is None or value is False:
        return False
    return bool(str(value).strip())


class SignupGuard:
    """The Redis-backed limits on sign-ups, shared by every process of the service."""

    def __init__(self, redis: ScriptRunner, settings: Settings) -> None:
        self.min_duration = settings.signup_min_duration
        self.mx = MxChecker(settings) if settings.check_mx else None
        self._per_client = AttemptWindow(
            redis,
            "signup:ip",
            limit=settings.signup_limit_per_ip,
            window=settings.signup_limit_ip_window,
        )
        self._per_address = AttemptWindow(
            redis,
            "signup:address",
            limit=settings.signup_limit_per_address,
            window=settings.signup_limit_address_window,
        )
        self._confirm_mails = AttemptWindow(
            redis,
            "confirm-mail",
            limit=settings.confirm_mails_per_address_per_day,
            window=DAY,
        )
        # Export links asked for on the preference page: the same daily allowance per address.
        self._export_mails = AttemptWindow(
            redis,
            "export-mail",
            limit=settings.confirm_mails_per_address_per_day,
            window=DAY,
        )

    async def admit_client(self, client: str) -> None:
        """Count a sign-up attempt from ``client``; raise RateLimited over the limit."""
        decision = await self._per_client.hit(limit_key(client))
        if not decision.allowed:
            log.info("signup.rate_limited", scope="client", retry_after=decision.retry_after)
            raise RateLimited("client", decision.retry_after)

    async def admit_address(self, email: str) -> None:
        """Count a sign-up of ``email``, whether or not it is known; raise RateLimited."""
        decision = await self._per_address.hit(address_key(email))
        if not decision.allowed:
            log.info("signup.rate_limited", scope="address", retry_after=decision.retry_after)
            raise RateLimited("address", decision.retry_after)

    async def is_deliverable(self, email: str) -> bool:
        """False only when the MX check is on and DNS says the domain takes no mail."""
        if self.mx is None:
            return True
        return await self.mx.check(email) is not Verdict.UNDELIVERABLE

    def confirmation_mails(self, email: str) -> tuple[AttemptWindow, str]:
        """The daily allowance of confirmation mails and ``email``'s key in it, to count a
        mail in the round trip that enqueues it (shared.jobs.enqueue_within_limit)."""
        return self._confirm_mails, address_key(email)

    async def may_send_confirmation(self, email: str) -> bool:
        """Count a confirmation mail to ``email``; False once today's allowance is used."""
        decision = await self._confirm_mails.hit(address_key(email))
        return decision.allowed

    async def admit_confirmation_mail(self, email: str) -> None:
        """Count a confirmation mail asked for on the preference page; raise RateLimited once
        today's allowance (shared with sign-ups) is used."""
        await self._admit_mail(self._confirm_mails, email)

    async def admit_export_mail(self, email: str) -> None:
        """Count an export link mail; raise RateLimited once today's allowance is used."""
        await self._admit_mail(self._export_mails, email)

    async def _admit_mail(self, window: AttemptWindow, email: str) -> None:
        decision = await window.hit(address_key(email))
        if not decision.allowed:
            log.info("mail.rate_limited", retry_after=decision.retry_after)
            raise RateLimited("address", decision.retry_after)
