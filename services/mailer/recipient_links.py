"""A recipient's personal links in campaign mail: one-click unsubscribe and preferences."""

from __future__ import annotations

from collections.abc import Collection
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
