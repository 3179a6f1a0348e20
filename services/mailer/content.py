"""A campaign's templates compiled once per process, rendered per recipient into MIME bytes."""

from __future__ import annotations

import html
import re
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from jinja2 import Template

from services.mailer import mime
from shared import links as link_tokens
from shared.campaign_templates import compile_template, render_template
from shared.tokens import TokenSigner

# Minimal footer strings; the resident's language picks one, unknown languages get Danish.
FOOTER: dict[str, tuple[str, str, str]] = {
    "da": ("Du får denne mail, fordi du har tilmeldt dig.", "Afmeld", "Indstillinger"),
    "sv": ("Du får detta mejl eftersom du har anmält dig.", "Avsluta", "Inställningar"),
    "en": ("You receive this email because you subscribed.", "Unsubscribe", "Preferences"),
}


@dataclass(frozen=True, slots=True)
class CampaignSource:
    """What the mailer reads about a campaign (from the campaigns service's tables)."""

    id: int
    subject: str
    body: str
    body_text: str | None
    from_address: str | None
    list_slugs: tuple[str, ...]
    updated_at: object  # part of the cache key: an edited campaign compiles again
    status: str = "sending"  # campaigns.status: staff may pause or cancel a running campaign
    # The lists it goes to: what its one-click unsubscribe link leaves.
    list_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Recipient:
    """One ledger row joined with its subscriber."""

    delivery_id: int
    subscriber_id: int
    key: str
    email: str
    name: str | None
    language: str
    message_id: str
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class CompiledCampaign:
    """Templates and MIME skeleton of one campaign, shared by all its batches in a process."""

    id: int
    subject_source: str
    subject: Template
    body: Template
    body_text: Template | None
    skeleton: mime.CampaignSkeleton
    envelope_from: str
    list_ids: tuple[int, ...] = ()


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


def list_id_for(slugs: tuple[str, ...], domain: str) -> str:
    """RFC 2919 List-Id: stable per set of lists, so receivers can filter on it."""
    cleaned = [re.sub(r"[^A-Za-z0-9-]", "-", slug) for slug in sorted(slugs)] or ["news"]
    return f"<{'.'.join(cleaned)}.lists.{domain}>"


def _text_template(source: CampaignSource) -> Template | None:
    if source.body_text:
        return compile_template(source.body_text, field="body_text", html=False)
    # No text version written: render_message converts each recipient's rendered HTML. The
    # text derived from the HTML *template* is no template staff wrote or anyone validated:
    # entities decode into tags there (&#123;&#123; x &#125;&#125; becomes {{ x }}).
    return None


def compile_campaign(source: CampaignSource, mail_from: str) -> CompiledCampaign:
    """Compile the staff templates and the MIME skeleton of a campaign."""
    name, address = mime.parse_mailbox(source.from_address or mail_from)
    domain = mime.domain_of(address)
    return CompiledCampaign(
        id=source.id,
        subject_source=source.subject,
        subject=compile_template(source.subject, field="subject", html=False),
        body=compile_template(source.body, field="body", html=True),
        body_text=_text_template(source),
        skeleton=mime.compile_skeleton(
            campaign_id=source.id,
            from_header=mime.format_mailbox(name, address),
            list_id=list_id_for(source.list_slugs, domain),
            feedback_id=f"c{source.id}:bulk:brevdue",
        ),
        envelope_from=address,
        list_ids=source.list_ids,
    )


class CampaignCache:
    """Compiled campaigns per process, least recently used evicted first."""

    def __init__(self, mail_from: str, size: int = 32) -> None:
        self._mail_from = mail_from
        self._size = size
        self._items: OrderedDict[tuple[int, object], CompiledCampaign] = OrderedDict()

    def get(self, source: CampaignSource) -> CompiledCampaign:
        """The compiled form of ``source``, compiling it on first use."""
        key = (source.id, source.updated_at)
        compiled = self._items.get(key)
        if compiled is None:
            compiled = compile_campaign(source, self._mail_from)
            self._items[key] = compiled
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return compiled

    def clear(self) -> None:
        """Forget every compiled campaign."""
        self._items.clear()


def render_message(campaign: CompiledCampaign, recipient: Recipient, links: Links) -> bytes:
    """Render the templates for one recipient and assemble the message bytes."""
    unsubscribe_url = links.unsubscribe(recipient, campaign.id, campaign.list_ids)
    preferences_url = links.preferences(recipient)
    context: dict[str, Any] = {
        "subscriber": {
            "name": recipient.name or "",
            "email": recipient.email,
            "language": recipient.language,
        },
        "campaign": {"id": campaign.id, "subject": campaign.subject_source},
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
    }
    subject = render_template(campaign.subject, context, field="subject")
    context["campaign"] = {"id": campaign.id, "subject": subject}
    body_html = render_template(campaign.body, context, field="body")
    if campaign.body_text is not None:
        body_text = render_template(campaign.body_text, context, field="body_text")
    else:
        body_text = html_to_text(body_html)
    reason, unsubscribe, preferences = FOOTER.get(recipient.language, FOOTER["da"])
    body_text += (
        f"\n\n-- \n{reason}\n{unsubscribe}: {unsubscribe_url}\n{preferences}: {preferences_url}\n"
    )
    body_html = _with_footer(
        body_html,
        f'<hr><p style="font-size:12px;color:#666">{html.escape(reason)}<br>'
        f'<a href="{html.escape(unsubscribe_url)}">{html.escape(unsubscribe)}</a> · '
        f'<a href="{html.escape(preferences_url)}">{html.escape(preferences)}</a></p>',
    )
    return mime.render_campaign_message(
        campaign.skeleton,
        to_header=mime.format_mailbox(recipient.name, recipient.email),
        subject=subject,
        message_id=recipient.message_id,
        unsubscribe_url=unsubscribe_url,
        text=body_text,
        html=body_html,
    )


def _with_footer(body: str, footer: str) -> str:
    # Inside </body> when the template is a whole document, else appended to the fragment.
    index = body.lower().rfind("</body>")
    return body + footer if index < 0 else body[:index] + footer + body[index:]


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        if tag == "a":
            self._links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href and href.startswith(("http://", "https://", "{{")):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(source: str) -> str:
    """A readable plain-text alternative of an HTML body (links kept in parentheses)."""
    extractor = _TextExtractor()
    extractor.feed(source)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
