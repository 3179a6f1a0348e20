"""Exponential backoff with jitter for temporary delivery failures."""

from __future__ import annotations

import random


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before attempt ``attempt + 1``: base·2^(attempt-1), capped, half jittered.

    Equal jitter keeps at least half the delay (a relay that said "try later" gets a real pause)
    while spreading retries of many recipients that failed together.
    """
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not a secret
