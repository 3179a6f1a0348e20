"""The optional MX check: does the address's domain accept mail at all?"""

from __future__ import annotations

import asyncio
from enum import Enum

import dns.nameserver
import dns.resolver
import structlog
from email_validator import EmailNotValidError, validate_email
from email_validator.deliverability import (
    DeliverabilityInfo,
    caching_resolver,
    validate_email_deliverability,
)

from shared.settings import Settings, split_host_port

log = structlog.get_logger(__name__)


class Verdict(Enum):
    """What the DNS said about a domain."""

    DELIVERABLE = "deliverable"
    UNDELIVERABLE = "undeliverable"  # NXDOMAIN, or neither MX nor A/AAAA, or a null MX
    UNKNOWN = "unknown"  # no answer in time or no resolver: accepted (fail open)


class MxChecker:
    """Checks domains with email-validator's deliverability rules, off the event loop."""

    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.mx_check_timeout
        resolver = dns.resolver.Resolver(configure=not settings.mx_check_nameservers)
        if settings.mx_check_nameservers:
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(*split_host_port(item))
                for item in settings.mx_check_nameservers
            ]
        # A resolver of our own, so its timeout and cache touch nothing else in the process.
        self._resolver = caching_resolver(timeout=int(max(1, self.timeout)), dns_resolver=resolver)
        self._resolver.lifetime = self.timeout

    async def check(self, email: str) -> Verdict:
        """Look up the domain of an already validated address; never raises for DNS trouble."""
        domain = email.rpartition("@")[2]
        try:
            # dnspython resolves synchronously; the outer timeout is a backstop in case a
            # lookup overruns its own lifetime (the thread then finishes in the background).
            info = await asyncio.wait_for(
                asyncio.to_thread(self._lookup, email), timeout=self.timeout + 1
            )
        except EmailNotValidError as exc:
            log.info("mx_check.undeliverable", domain=domain, reason=str(exc)[:200])
            return Verdict.UNDELIVERABLE
        except TimeoutError:
            info = {"unknown-deliverability": "timeout"}
        except Exception as exc:  # a broken resolver set-up must not stop sign-ups
            info = {"unknown-deliverability": type(exc).__name__}
        unknown = info.get("unknown-deliverability")
        if unknown:
            log.warning("mx_check.unavailable", domain=domain, reason=unknown, accepted=True)
            return Verdict.UNKNOWN
        return Verdict.DELIVERABLE

    def _lookup(self, email: str) -> DeliverabilityInfo:
        checked = validate_email(email, check_deliverability=False)
        return validate_email_deliverability(
            checked.ascii_domain, checked.domain, dns_resolver=self._resolver
        )
