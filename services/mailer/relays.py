"""Several SMTP relays with weights and failover, behind the pool's ``send``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from services.mailer.errors import SmtpConnectError
from services.mailer.smtp_pool import SendResult, SmtpPool
from shared.errors import SettingsError
from shared.settings import SmtpSettings


@dataclass(eq=False)
class Relay:
    """One relay's pool, its weight and when it may be tried again after failing to connect."""

    name: str
    weight: int
    pool: SmtpPool
    down_until: float = 0.0
    current: int = 0  # smooth weighted round-robin state


def parse_relays(value: str) -> list[tuple[SmtpSettings, int]]:
    """``"smtp://a:25?weight=3,smtps://u:p@b?weight=1"`` → relay settings with weights."""
    relays: list[tuple[SmtpSettings, int]] = []
    for url in filter(None, (part.strip() for part in value.split(","))):
        weight = parse_qs(urlsplit(url).query).get("weight", ["1"])[-1]
        if not weight.isdigit() or int(weight) < 1:
            raise SettingsError("MAILER_RELAYS", "weight must be a whole number of at least 1")
        try:
            relays.append((SmtpSettings.from_url(url), int(weight)))
        except SettingsError as exc:
            raise SettingsError("MAILER_RELAYS", exc.reason) from exc
    return relays


class RelayRouter:
    """Spreads messages over relays by weight; a relay that cannot be reached is skipped.

    Only connection failures fail over at once: then nothing was sent. A failure inside a
    transaction (after DATA, say) is reported to the caller, whose retry goes through the
    ledger, because the relay may have taken the message.
    """

    def __init__(self, relays: Sequence[Relay], *, cooldown: float = 30.0) -> None:
        if not relays:
            raise ValueError("at least one relay is needed")
        self.relays = list(relays)
        self.cooldown = cooldown
        self.size = sum(relay.pool.size for relay in self.relays)

    async def send(self, sender: str, recipients: list[str], message: bytes) -> SendResult:
        """Send through the next relay by weight, failing over on connection errors."""
        error: SmtpConnectError | None = None
        for relay in self._order():
            try:
                return await relay.pool.send(sender, recipients, message)
            except SmtpConnectError as exc:
                relay.down_until = time.monotonic() + self.cooldown
                error = exc
        assert error is not None
        raise error

    async def close(self) -> None:
        """Close every relay's pool."""
        for relay in self.relays:
            await relay.pool.close()

    def _order(self) -> list[Relay]:
        now = time.monotonic()
        up = [relay for relay in self.relays if relay.down_until <= now]
        candidates = up or self.relays  # all down: try them anyway, the cooldown may be stale
        if len(candidates) == 1:
            return candidates
        # Smooth weighted round-robin (as in nginx): even spread, no randomness.
        total = sum(relay.weight for relay in candidates)
        for relay in candidates:
            relay.current += relay.weight
        chosen = max(candidates, key=lambda relay: relay.current)
        chosen.current -= total
        rest = sorted((r for r in candidates if r is not chosen), key=lambda r: -r.weight)
        down = [relay for relay in self.relays if relay not in candidates]
        return [chosen, *rest, *down]
