"""Address identity: every spelling of one mailbox has one key and one digest."""

from __future__ import annotations

import hashlib

import pytest

from shared.addresses import ADDRESS_HASH_SALT, address_digest, address_identity


@pytest.mark.parametrize(
    "spelling",
    [
        "Case.Test@Example.DK",
        "case.test@example.dk",
        "CASE.TEST@EXAMPLE.DK",
        " case.test@example.dk. ",
    ],
)
def test_spellings_of_one_mailbox_share_one_identity(spelling: str) -> None:
    assert address_identity(spelling) == "case.test@example.dk"
    assert address_digest(spelling) == address_digest("case.test@example.dk")


def test_domains_are_idna_normalised_whatever_their_form() -> None:
    key = address_identity("Maja@bücher.dk")
    assert key == "maja@bücher.dk"
    assert address_identity("maja@xn--bcher-kva.dk") == key
    assert address_identity("MAJA@BÜCHER.DK") == key


def test_local_parts_are_case_folded() -> None:
    assert address_identity("STRASSE@example.de") == address_identity("straße@example.de")


def test_different_mailboxes_stay_apart() -> None:
    assert address_identity("a.b@example.dk") != address_identity("ab@example.dk")
    assert address_identity("maja@example.dk") != address_identity("maja@example.se")


def test_digests_written_before_identity_keys_still_match() -> None:
    # They were of the lower-cased address; sign-up only ever accepted ASCII local parts.
    address = "Anne.Sorensen@Example.DK"
    legacy = hashlib.sha256((ADDRESS_HASH_SALT + address.lower()).encode()).hexdigest()
    assert address_digest(address) == legacy
