"""Tokens are purpose-bound, tamper-evident, expire where they must and survive key rotation."""

from __future__ import annotations

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer

from shared.errors import TokenError, TokenExpired
from shared.settings import Secret
from shared.tokens import Purpose, TokenSigner

OLD, NEW = Secret("old-key-0123456789abcdef"), Secret("new-key-0123456789abcdef")


def test_round_trip_and_wrong_purpose() -> None:
    signer = TokenSigner([NEW])
    token = signer.sign(Purpose.CONFIRM, ["abc", [1, 2]])
    assert signer.verify(Purpose.CONFIRM, token) == ["abc", [1, 2]]
    with pytest.raises(TokenError):
        signer.verify(Purpose.UNSUBSCRIBE, token)


def test_tampered_token_is_rejected() -> None:
    signer = TokenSigner([NEW])
    token = signer.sign(Purpose.UNSUBSCRIBE, "abc")
    with pytest.raises(TokenError):
        signer.verify(Purpose.UNSUBSCRIBE, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    with pytest.raises(TokenError):
        signer.verify(Purpose.UNSUBSCRIBE, "not-a-token")


def test_rotation_last_key_signs_all_verify() -> None:
    old_token = TokenSigner([OLD]).sign(Purpose.UNSUBSCRIBE, "abc")
    rotated = TokenSigner([OLD, NEW])
    assert rotated.verify(Purpose.UNSUBSCRIBE, old_token) == "abc"
    new_token = rotated.sign(Purpose.UNSUBSCRIBE, "abc")
    assert TokenSigner([NEW]).verify(Purpose.UNSUBSCRIBE, new_token) == "abc"
    with pytest.raises(TokenError):
        TokenSigner([NEW]).verify(Purpose.UNSUBSCRIBE, old_token)


def test_confirm_expires_unsubscribe_does_not() -> None:
    signer = TokenSigner([NEW], {Purpose.CONFIRM: 7 * 24 * 3600})
    with time_machine.travel("2026-01-01 12:00", tick=False):
        confirm = signer.sign(Purpose.CONFIRM, "abc")
        unsubscribe = signer.sign(Purpose.UNSUBSCRIBE, "abc")
    with time_machine.travel("2026-01-07 12:00", tick=False):
        assert signer.verify(Purpose.CONFIRM, confirm) == "abc"
    with time_machine.travel("2026-01-09 12:00", tick=False), pytest.raises(TokenExpired):
        signer.verify(Purpose.CONFIRM, confirm)
    with time_machine.travel("2030-01-01 12:00", tick=False):
        assert signer.verify(Purpose.UNSUBSCRIBE, unsubscribe) == "abc"


@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize(
    "payload", ["abc", ["0" * 32, 7, [1, 2]], ["x" * 300], {"ø": "Åse"}, [None, 1.5, True]]
)
def test_tokens_are_what_itsdangerous_writes(purpose: Purpose, payload: object) -> None:
    # Short payloads and long ones (which itsdangerous compresses) alike.
    reference = URLSafeTimedSerializer([NEW.reveal()], salt=f"brevdue.{purpose.value}")
    rotated = TokenSigner([OLD, NEW])
    with time_machine.travel("2026-11-29 12:00", tick=False):
        assert rotated.sign(purpose, payload) == reference.dumps(payload)
        assert TokenSigner([NEW]).sign(purpose, payload) == reference.dumps(payload)
    assert rotated.verify(purpose, rotated.sign(purpose, payload)) == payload
