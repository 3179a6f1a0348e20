"""A recipient's links in campaign mail read back to that recipient, campaign and lists."""

from __future__ import annotations

from services.mailer.campaign_types import Recipient
from services.mailer.recipient_links import Links
from shared import links
from shared.settings import Secret
from shared.tokens import TokenSigner

SIGNER = TokenSigner((Secret("y" * 32),))
LINKS = Links("https://s.example", SIGNER)
RECIPIENT = Recipient(1, 7, "key7", "maja@example.dk", "Maja", "da", "<m@x>")


def test_unsubscribe_link_leaves_the_campaigns_lists() -> None:
    url = LINKS.unsubscribe(RECIPIENT, 42, (3, 1))
    prefix = "https://s.example/unsubscribe/"
    assert url.startswith(prefix)
    read = links.read_unsubscribe(SIGNER, url.removeprefix(prefix))
    assert read == links.UnsubscribeLink("key7", 42, (1, 3))


def test_preferences_link_names_the_recipient() -> None:
    url = LINKS.preferences(RECIPIENT)
    prefix = "https://s.example/preferences/"
    assert url.startswith(prefix)
    assert links.read_preferences(SIGNER, url.removeprefix(prefix)) == "key7"
