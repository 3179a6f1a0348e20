"""A campaign's templates and MIME skeleton compiled once per process, kept in a small LRU cache."""

from __future__ import annotations

import re
from collections import OrderedDict

from jinja2 import Template

from services.mailer import mime
from services.mailer.campaign_types import (
    CampaignSource,
    CompiledCampaign,
    CompiledVariant,
    VariantSource,
)
from shared.campaign_templates import compile_template


def list_id_for(slugs: tuple[str, ...], domain: str) -> str:
    """RFC 2919 List-Id: stable per set of lists, so receivers can filter on it."""
    cleaned = [re.sub(r"[^A-Za-z0-9-]", "-", slug) for slug in sorted(slugs)] or ["news"]
    return f"<{'.'.join(cleaned)}.lists.{domain}>"


def _text_template(source: CampaignSource | VariantSource) -> Template | None:
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
        footer_in_body=source.layout is not None,
        fallback_language=source.fallback_language,
        variants={variant.language: _compile_variant(variant) for variant in source.variants},
    )


def _compile_variant(variant: VariantSource) -> CompiledVariant:
    return CompiledVariant(
        subject_source=variant.subject,
        subject=compile_template(variant.subject, field="subject", html=False),
        body=compile_template(variant.body, field="body", html=True),
        body_text=_text_template(variant),
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
