"""Campaign event entries round-trip and refuse entries that break the contract."""

from __future__ import annotations

import msgspec
import pytest

from shared.events import (
    PAYLOAD_FIELD,
    CampaignPaused,
    decode_campaign_paused,
    encode_campaign_paused,
)


def test_campaign_paused_round_trips() -> None:
    event = CampaignPaused(campaign_id=7, reason="12 of 20 deliveries failed")
    assert decode_campaign_paused(encode_campaign_paused(event)) == event


def test_entry_without_payload_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_campaign_paused({b"other": b"x"})


def test_entry_with_wrong_payload_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_campaign_paused({PAYLOAD_FIELD: msgspec.msgpack.encode({"campaign_id": "x"})})


def test_entry_that_is_not_msgpack_is_refused() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_campaign_paused({PAYLOAD_FIELD: b"\xc1"})
