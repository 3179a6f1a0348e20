"""A recipient's personal links in campaign mail: one-click unsubscribe, preferences, tracked
links, the open pixel and "view in the browser"."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from services.mailer.campaign_types import Recipient
from shared import links as link_tokens
from shared.tokens import TokenSigner


@dataclass(frozen=True, slots=True)
class Links:
    """Where a recipient's personal links point."""

    public_url: str
    signer: TokenSigner

    def unsubscribe(
        self, recipient: Recipient, campaign_id: int, list_ids: Collection[int] = ()
    ) -> str:
        """One-click unsubscribe link (RFC 8058) for this recipient: it leaves the lists the
        campaign was sent to."""
        token = link_tokens.sign_unsubscribe(self.signer, recipient.key, campaign_id, list_ids)
        return link_tokens.unsubscribe_url(self.public_url, token)

    def preferences(self, recipient: Recipient) -> str:
        """Link to the recipient's preferences page."""
        token = link_tokens.sign_preferences(self.signer, recipient.key)
        return link_tokens.preferences_url(self.public_url, token)

    def clicks(self, recipient: Recipient, link_ids: Sequence[int]) -> list[str]:
        """The recipient's short link for each tracked link, in the order of ``link_ids``."""
        prefix = link_tokens.click_url(self.public_url, "")
        tokens = link_tokens.sign_clicks(self.signer, recipient.key, link_ids)
        return [prefix + token for token in tokens]

    def open_pixel(self, recipient: Recipient, campaign_id: int) -> str:
        """The open-tracking image of this recipient's copy of a campaign."""
        token = link_tokens.sign_open(self.signer, recipient.key, campaign_id)
        return link_tokens.open_pixel_url(self.public_url, token)

    def view(self, recipient: Recipient, campaign_id: int, *, public: bool) -> str:
        """ "View in the browser": the archive page of a public campaign (the same for
        everyone, no token), else the recipient's own copy behind a signed link."""
        if public:
            return (
                f"{link_tokens.archive_url(self.public_url, campaign_id)}?lang={recipient.language}"
            )
        token = link_tokens.sign_view(self.signer, recipient.key, campaign_id)
        return link_tokens.view_url(self.public_url, token)
