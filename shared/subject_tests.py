"""Subject tests: who is in a campaign's sample and which subject each of them gets.

Both follow from one digest of (campaign, subscriber), so the sample is random across
subscribers, different for every campaign, and the same however often it is computed: the
fan-out decides one keyset page at a time, and a re-run (or anyone checking) gets the same
answer without storing a list.
"""

from __future__ import annotations

import hashlib
from typing import Final

# The digest is reduced to one of this many slots; a share of P percent is the first P*100.
SLOTS: Final = 10_000
SUBJECTS_MIN: Final = 2
SUBJECTS_MAX: Final = 4
SAMPLE_PERCENT_MIN: Final = 1
SAMPLE_PERCENT_MAX: Final = 90
WAIT_SECONDS_MIN: Final = 1
WAIT_SECONDS_MAX: Final = 7 * 24 * 3600
METRICS: Final = ("clicks", "opens")


def slot(campaign_id: int, subscriber_id: int) -> int:
    """The subscriber's slot in [0, SLOTS) for this campaign."""
    digest = hashlib.blake2s(f"{campaign_id}:{subscriber_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % SLOTS


def subject_for(
    campaign_id: int, subscriber_id: int, sample_percent: int, subjects: int
) -> int | None:
    """The subject (0-based) the subscriber gets in the sample, or None when not in it.

    Slots below the share are the sample; the slot modulo the number of subjects spreads them
    evenly over the subjects (SLOTS is a multiple of 2 and 4; with 3 the skew is < 0.1%).
    """
    at = slot(campaign_id, subscriber_id)
    if at >= sample_percent * SLOTS // 100:
        return None
    return at % subjects
