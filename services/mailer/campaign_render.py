"""One recipient's campaign message: templates rendered, footer added, MIME bytes assembled."""

from __future__ import annotations

from typing import Any

from services.mailer import mime
from services.mailer.campaign_types import CompiledCampaign, Recipient
from services.mailer.recipient_links import Links
from services.mailer.tracked_links import VARIABLE
from shared import campaign_footer as footer
from shared.campaign_templates import render_template
from shared.html_text import html_to_text


def render_message(campaign: CompiledCampaign, recipient: Recipient, links: Links) -> bytes:
    """Render the templates for one recipient and assemble the message bytes."""
    # The reader's language variant, else the campaign's own subject and body.
    content = campaign.variants.get(recipient.language) or campaign
    # A subject test (never combined with language variants): the recipient's test subject.
    subject_source, subject_template = campaign.subject_of(recipient) or (
        content.subject_source,
        content.subject,
    )
    unsubscribe_url = links.unsubscribe(recipient, campaign.id, campaign.list_ids)
    preferences_url = links.preferences(recipient)
    view_url = links.view(recipient, campaign.id, public=campaign.archive_public)
    context: dict[str, Any] = {
        "subscriber": {
            "name": recipient.name or "",
            "email": recipient.email,
            "language": recipient.language,
        },
        "campaign": {"id": campaign.id, "subject": subject_source},
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "view_url": view_url,
    }
    if campaign.link_ids:
        # The body was rewritten to read each tracked link's href from here (tracked_links).
        # A minor's copy is never tracked: it gets each link as staff wrote it.
        context[VARIABLE] = (
            list(campaign.link_urls)
            if recipient.minor
            else links.clicks(recipient, campaign.link_ids)
        )
    # A digest campaign: the reader's block, chosen by municipality (computed at save).
    digest = campaign.digest_for(recipient.language, recipient.municipality)
    context["digest"] = digest[0] if digest is not None else ""
    subject = render_template(subject_template, context, field="subject")
    context["campaign"] = {"id": campaign.id, "subject": subject}
    body_html = render_template(content.body, context, field="body")
    if content.body_text is not None:
        if digest is not None:
            context["digest"] = digest[1]
        body_text = render_template(content.body_text, context, field="body_text")
    else:
        body_text = html_to_text(body_html)
    tracks_opens = campaign.track_opens and not recipient.minor
    pixel_url = links.open_pixel(recipient, campaign.id) if tracks_opens else None
    # A layout's footer carries the links already, and so does a text part derived from it.
    if content.body_text is not None or not campaign.footer_in_body:
        body_text += footer.text_footer(
            recipient.language, unsubscribe_url, preferences_url, view_url
        )
    if not campaign.footer_in_body:
        body_html = footer.with_footer(
            body_html,
            footer.html_footer(
                recipient.language, unsubscribe_url, preferences_url, view_url, pixel_url
            ),
        )
    elif pixel_url is not None:
        body_html = footer.with_footer(body_html, footer.open_pixel(pixel_url))
    return mime.render_campaign_message(
        campaign.skeleton,
        to_header=mime.format_mailbox(recipient.name, recipient.email),
        subject=subject,
        message_id=recipient.message_id,
        unsubscribe_url=unsubscribe_url,
        text=body_text,
        html=body_html,
    )
