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


def test_tracked_view_and_open_links_name_the_recipient() -> None:
    prefix = "https://s.example/l/"
    clicks = LINKS.clicks(RECIPIENT, [5, 9])
    assert all(url.startswith(prefix) for url in clicks)
    assert [links.read_click(SIGNER, url.removeprefix(prefix)) for url in clicks] == [
        (5, "key7"),
        (9, "key7"),
    ]
    view = LINKS.view(RECIPIENT, 42, public=False)
    assert links.read_view(SIGNER, view.removeprefix("https://s.example/v/")) == (42, "key7")
    # A public campaign's copy is the same for everyone: its archive page, no token.
    assert (
        LINKS.view(RECIPIENT, 42, public=True) == "https://s.example/archive/campaigns/42?lang=da"
    )
    pixel = LINKS.open_pixel(RECIPIENT, 42)
    assert pixel.startswith("https://s.example/o/") and pixel.endswith(".gif")
    assert links.read_open(SIGNER, pixel[len("https://s.example/o/") : -4]) == (42, "key7")
