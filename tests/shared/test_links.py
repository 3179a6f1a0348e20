"""shared/links.py: each link token is written and read by one module, purpose-bound."""

from __future__ import annotations

import pytest

from shared import links
from shared.errors import TokenError
from shared.settings import Secret
from shared.tokens import Purpose, TokenSigner

SIGNER = TokenSigner([Secret("a-secret-key-for-link-tests")])


def test_unsubscribe_links_name_the_campaign_and_its_lists() -> None:
    token = links.sign_unsubscribe(SIGNER, "key1", 7, [3, 1, 3])

    assert links.read_unsubscribe(SIGNER, token) == links.UnsubscribeLink("key1", 7, (1, 3))
    assert links.unsubscribe_url("https://s.example/", token) == (
        f"https://s.example/unsubscribe/{token}"
    )


def test_unsubscribe_links_mailed_before_they_named_lists_leave_every_list() -> None:
    old = SIGNER.sign(Purpose.UNSUBSCRIBE, ["key1", 7])
    no_lists = links.sign_unsubscribe(SIGNER, "key1", 7, [])

    assert links.read_unsubscribe(SIGNER, old) == links.UnsubscribeLink("key1", 7, None)
    assert links.read_unsubscribe(SIGNER, no_lists) == links.UnsubscribeLink("key1", 7, None)


def test_every_kind_reads_back_what_was_written() -> None:
    assert links.read_confirm(SIGNER, links.sign_confirm(SIGNER, "key1", [5, 2])) == (
        "key1",
        [2, 5],
    )
    assert links.read_preferences(SIGNER, links.sign_preferences(SIGNER, "key1")) == "key1"
    assert links.read_export(SIGNER, links.sign_export(SIGNER, "key1")) == "key1"


def test_a_token_opens_only_its_own_kind() -> None:
    preferences = links.sign_preferences(SIGNER, "key1")
    unsubscribe = links.sign_unsubscribe(SIGNER, "key1", 7, [1])

    with pytest.raises(TokenError):
        links.read_unsubscribe(SIGNER, preferences)
    with pytest.raises(TokenError):
        links.read_preferences(SIGNER, unsubscribe)
    with pytest.raises(TokenError):
        links.read_export(SIGNER, preferences)


def test_a_guardians_link_is_no_confirm_link_and_the_other_way_round() -> None:
    guardian = links.sign_guardian(SIGNER, "key1", [4, 2])
    confirm = links.sign_confirm(SIGNER, "key1", [2, 4])
    review = links.sign_age_review(SIGNER, "key1")

    assert links.read_guardian(SIGNER, guardian) == ("key1", [2, 4])
    assert links.read_age_review(SIGNER, review) == "key1"
    for read, token in (
        (links.read_confirm, guardian),
        (links.read_guardian, confirm),
        (links.read_preferences, review),
        (links.read_guardian, review),
    ):
        with pytest.raises(TokenError):
            read(SIGNER, token)


@pytest.mark.parametrize(
    "payload",
    [["key1"], ["key1", "seven"], ["key1", 7, "lists"], ["key1", 7, [1], "more"], "key1", []],
)
def test_unsubscribe_payloads_no_version_wrote_are_refused(payload: object) -> None:
    token = SIGNER.sign(Purpose.UNSUBSCRIBE, payload)

    with pytest.raises(TokenError):
        links.read_unsubscribe(SIGNER, token)


def test_empty_and_oversized_tokens_are_refused_unread() -> None:
    with pytest.raises(TokenError):
        links.read_preferences(SIGNER, "")
    with pytest.raises(TokenError):
        links.read_preferences(SIGNER, "x" * (links.MAX_TOKEN_LENGTH + 1))
