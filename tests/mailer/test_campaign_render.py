"""One recipient's campaign message: their variables, the footer, the derived text part."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from email.message import EmailMessage

import pytest

from services.mailer import mime
from services.mailer.campaign_cache import compile_campaign
from services.mailer.campaign_render import render_message
from services.mailer.campaign_types import CampaignSource, Recipient
from services.mailer.recipient_links import Links
from shared.campaign_templates import CampaignTemplateError
from shared.settings import Secret
from shared.tokens import TokenSigner

LINKS = Links("https://s.example", TokenSigner((Secret("z" * 32),)))
SOURCE = CampaignSource(
    id=9,
    subject="Nyt, {{ subscriber.name }}",
    body="<p>{{ campaign.subject }} til {{ subscriber.email }} ({{ subscriber.language }})</p>",
    body_text=None,
    from_address="Kultur <nyt@kultur.test>",
    list_slugs=("kultur",),
    updated_at=None,
    list_ids=(1,),
)
RECIPIENT = Recipient(
    1, 7, "key7", "ole@example.se", "Ole", "sv", mime.campaign_message_id(9, 7, "kultur.test")
)


def _render(source: CampaignSource = SOURCE, recipient: Recipient = RECIPIENT) -> EmailMessage:
    data = render_message(compile_campaign(source, "x@kultur.test"), recipient, LINKS)
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    # Parsed parts keep the wire's CRLF line ends.
    return str(text.get_content()).replace("\r\n", "\n"), str(html.get_content())


def test_variables_are_the_recipients() -> None:
    message = _render()
    assert message["Subject"] == "Nyt, Ole"
    assert message["To"] == "Ole <ole@example.se>"
    assert message["Message-ID"] == RECIPIENT.message_id
    text, html = _parts(message)
    assert "<p>Nyt, Ole til ole@example.se (sv)</p>" in html
    assert text.startswith("Nyt, Ole til ole@example.se (sv)")


def test_footer_in_both_parts_in_the_recipients_language() -> None:
    text, html = _parts(_render())
    unsubscribe = LINKS.unsubscribe(RECIPIENT, 9, (1,))
    assert f"Avsluta: {unsubscribe}" in text
    assert f'<a href="{unsubscribe}">Avsluta</a>' in html


def test_text_part_derives_from_the_rendered_html_not_the_template() -> None:
    source = dataclasses.replace(SOURCE, body="<p>&#123;&#123; subscriber.email &#125;&#125;</p>")
    text, _ = _parts(_render(source))
    assert text.startswith("{{ subscriber.email }}")
    assert "ole@example.se" not in text.split("-- ")[0]


def test_a_written_text_version_is_used() -> None:
    text, _ = _parts(_render(dataclasses.replace(SOURCE, body_text="Kære {{ subscriber.name }}")))
    assert text.startswith("Kære Ole\n\n-- \n")


def test_the_html_body_is_escaped() -> None:
    _, html = _parts(_render(recipient=dataclasses.replace(RECIPIENT, name="<b>Ole</b>")))
    assert "&lt;b&gt;Ole&lt;/b&gt;" in html


def test_an_undefined_name_fails_the_render() -> None:
    with pytest.raises(CampaignTemplateError) as raised:
        _render(dataclasses.replace(SOURCE, body="{{ subscriber.nmae }}"))
    assert raised.value.field == "body"
