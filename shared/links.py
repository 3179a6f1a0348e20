"""The signed links in residents' mail: the one place their tokens are written and read.

The mailer builds unsubscribe and preference links into campaign mail; the subscriptions
service builds confirm, preference and export links into its own mail and reads every one of
them back. Each payload shape is defined here once, so both sides cannot drift apart. Tokens
are purpose-bound (``shared/tokens.py``): a token of one kind never opens another.

Payloads (JSON inside the signed token):

- confirm: ``[subscriber key, [list ids]]``
- preferences, export: ``[subscriber key]``
- unsubscribe: ``[subscriber key, campaign id, [list ids]]``, the lists the campaign was sent
  to. Mail sent before campaigns named their lists carries ``[subscriber key, campaign id]``;
  such a link still works and means every list, as it did when it was mailed (and so does
  one naming no list).
- click: ``[link id, subscriber key]``, a tracked link (``campaign_links.id``) in campaign mail.
- open, view: ``[campaign id, subscriber key]``, the open-tracking pixel and the "view in the
  browser" link of a campaign mail.
- guardian: ``[subscriber key, [list ids]]``, a parent's or guardian's confirmation of a minor's
  sign-up to those lists.
- age review: ``[subscriber key]``, a resident past the age of digital consent confirming
  their own consent.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from shared.errors import TokenError
from shared.tokens import Purpose, TokenSigner

# Real tokens are a few hundred characters; anything much longer is not worth verifying.
MAX_TOKEN_LENGTH: Final = 2048


@dataclass(frozen=True)
class UnsubscribeLink:
    """What an unsubscribe link names: whom, from which campaign, and which lists to leave."""

    subscriber_key: str
    campaign_id: int
    # None: every list (links mailed before campaigns named their lists).
    list_ids: tuple[int, ...] | None


# --- URLs -------------------------------------------------------------------------------------


def confirm_url(public_url: str, token: str) -> str:
    """The public link that confirms a sign-up."""
    return f"{public_url.rstrip('/')}/confirm/{token}"


def guardian_url(public_url: str, token: str) -> str:
    """The public link a guardian confirms a minor's sign-up with."""
    return f"{public_url.rstrip('/')}/guardian/{token}"


def age_review_url(public_url: str, token: str) -> str:
    """The public link a resident past the age confirms their own consent with."""
    return f"{public_url.rstrip('/')}/age-review/{token}"


def unsubscribe_url(public_url: str, token: str) -> str:
    """The public unsubscribe link (also the RFC 8058 one-click target)."""
    return f"{public_url.rstrip('/')}/unsubscribe/{token}"


def preferences_url(public_url: str, token: str) -> str:
    """The public link to a subscriber's preference center."""
    return f"{public_url.rstrip('/')}/preferences/{token}"


def export_url(public_url: str, token: str) -> str:
    """The public link to a self-service data export."""
    return f"{public_url.rstrip('/')}/export/{token}"


def click_url(public_url: str, token: str) -> str:
    """The public short link of a tracked link (redirects to the stored URL)."""
    return f"{public_url.rstrip('/')}/l/{token}"


def open_pixel_url(public_url: str, token: str) -> str:
    """The open-tracking pixel of a campaign mail."""
    return f"{public_url.rstrip('/')}/o/{token}.gif"


def view_url(public_url: str, token: str) -> str:
    """A recipient's own copy of a campaign on the web ("view in the browser")."""
    return f"{public_url.rstrip('/')}/v/{token}"


def archive_url(public_url: str, campaign_id: int) -> str:
    """The public archive page of a campaign marked public (no token, no personal data)."""
    return f"{public_url.rstrip('/')}/archive/campaigns/{campaign_id}"


# --- writing ----------------------------------------------------------------------------------

_JSON = msgspec.json.Encoder()


def _compact(payload: list[Any]) -> bytes:
    """``payload`` as the compact JSON the serializer writes (no spaces), for ``sign_json``."""
    return _JSON.encode(payload)


def sign_confirm(signer: TokenSigner, subscriber_key: str, list_ids: Collection[int]) -> str:
    """A confirm token for a subscriber's pending lists (ids sorted, so it is canonical)."""
    return signer.sign(Purpose.CONFIRM, [subscriber_key, sorted(list_ids)])


def sign_guardian(signer: TokenSigner, subscriber_key: str, list_ids: Collection[int]) -> str:
    """A guardian's confirm token for a minor's pending lists (ids sorted)."""
    return signer.sign(Purpose.GUARDIAN, [subscriber_key, sorted(list_ids)])


def sign_age_review(signer: TokenSigner, subscriber_key: str) -> str:
    """The token of the mail asking a resident past the age to confirm their own consent."""
    return signer.sign(Purpose.AGE_REVIEW, [subscriber_key])


def sign_unsubscribe(
    signer: TokenSigner, subscriber_key: str, campaign_id: int, list_ids: Collection[int]
) -> str:
    """An unsubscribe token that leaves the lists ``campaign_id`` was sent to."""
    # On the mailer's per-message path, as the three below: compact JSON written here and
    # signed without the serializer, whose zlib attempt cost more than the rest of the token.
    return signer.sign_json(
        Purpose.UNSUBSCRIBE, _compact([subscriber_key, campaign_id, sorted(list_ids)])
    )


def sign_preferences(signer: TokenSigner, subscriber_key: str) -> str:
    """A preference-center token (never expires)."""
    return signer.sign_json(Purpose.PREFERENCES, _compact([subscriber_key]))


def sign_export(signer: TokenSigner, subscriber_key: str) -> str:
    """An export token; it expires after the signer's EXPORT max age."""
    return signer.sign(Purpose.EXPORT, [subscriber_key])


def sign_clicks(signer: TokenSigner, subscriber_key: str, link_ids: Sequence[int]) -> list[str]:
    """Click tokens for each of ``link_ids``, for one recipient.

    On the mailer's per-message path: the payload is written here as compact JSON (what
    ``json.dumps`` would write for ``[link_id, key]``) and signed without the serializer.
    """
    key = json.dumps(subscriber_key)
    return [signer.sign_json(Purpose.CLICK, f"[{link_id},{key}]".encode()) for link_id in link_ids]


def sign_open(signer: TokenSigner, subscriber_key: str, campaign_id: int) -> str:
    """The token of a campaign mail's open-tracking pixel."""
    return signer.sign_json(Purpose.OPEN, _compact([campaign_id, subscriber_key]))


def sign_view(signer: TokenSigner, subscriber_key: str, campaign_id: int) -> str:
    """The token of a recipient's "view in the browser" link."""
    return signer.sign_json(Purpose.VIEW, _compact([campaign_id, subscriber_key]))


# --- reading (each raises TokenError, or TokenExpired, when the token is not one) -------------


def read_confirm(signer: TokenSigner, token: str) -> tuple[str, list[int]]:
    """The subscriber key and list ids of a confirm token."""
    key, list_ids = _read(signer, Purpose.CONFIRM, token, tuple[str, list[int]])
    return str(key), [int(list_id) for list_id in list_ids]


def read_guardian(signer: TokenSigner, token: str) -> tuple[str, list[int]]:
    """The subscriber key and list ids of a guardian's confirm token."""
    key, list_ids = _read(signer, Purpose.GUARDIAN, token, tuple[str, list[int]])
    return str(key), [int(list_id) for list_id in list_ids]


def read_age_review(signer: TokenSigner, token: str) -> str:
    """The subscriber key of an age review token."""
    (key,) = _read(signer, Purpose.AGE_REVIEW, token, tuple[str])
    return str(key)


def read_unsubscribe(signer: TokenSigner, token: str) -> UnsubscribeLink:
    """What an unsubscribe token names; an old two-part token means every list."""
    payload = _read(signer, Purpose.UNSUBSCRIBE, token, list[Any])
    if len(payload) == 2:
        key, campaign_id = _convert(payload, tuple[str, int])
        return UnsubscribeLink(key, campaign_id, None)
    key, campaign_id, list_ids = _convert(payload, tuple[str, int, list[int]])
    # A link naming no list would leave nothing: rather leave every list than ignore a
    # resident's request.
    return UnsubscribeLink(key, campaign_id, tuple(sorted(set(list_ids))) or None)


def read_preferences(signer: TokenSigner, token: str) -> str:
    """The subscriber key of a preferences token."""
    (key,) = _read(signer, Purpose.PREFERENCES, token, tuple[str])
    return str(key)


def read_export(signer: TokenSigner, token: str) -> str:
    """The subscriber key of an export token."""
    (key,) = _read(signer, Purpose.EXPORT, token, tuple[str])
    return str(key)


def read_click(signer: TokenSigner, token: str) -> tuple[int, str]:
    """The link id and subscriber key of a click token."""
    link_id, key = _read(signer, Purpose.CLICK, token, tuple[int, str])
    return int(link_id), str(key)


def read_open(signer: TokenSigner, token: str) -> tuple[int, str]:
    """The campaign id and subscriber key of an open-pixel token."""
    campaign_id, key = _read(signer, Purpose.OPEN, token, tuple[int, str])
    return int(campaign_id), str(key)


def read_view(signer: TokenSigner, token: str) -> tuple[int, str]:
    """The campaign id and subscriber key of a "view in the browser" token."""
    campaign_id, key = _read(signer, Purpose.VIEW, token, tuple[int, str])
    return int(campaign_id), str(key)


def _read(signer: TokenSigner, purpose: Purpose, token: str, shape: Any) -> Any:
    """Verify a token and check its payload's shape."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError()
    return _convert(signer.verify(purpose, token), shape)


def _convert(payload: Any, shape: Any) -> Any:
    try:
        return msgspec.convert(payload, shape)
    except msgspec.ValidationError:
        # Correctly signed but not a payload any version wrote.
        raise TokenError() from None
