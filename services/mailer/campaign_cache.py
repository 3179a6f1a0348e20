"""A campaign's templates and MIME skeleton compiled once per process, kept in a small LRU cache."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping

from jinja2 import Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncConnection

from services.mailer import mime, queries, tracked_links
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


def compile_campaign(
    source: CampaignSource,
    mail_from: str,
    link_ids: Mapping[str, int] | None = None,
    own_url: str = "",
) -> CompiledCampaign:
    """Compile the staff templates and the MIME skeleton of a campaign; the body's links
    named in ``link_ids`` (URL to campaign_links id) become tracked links."""
    name, address = mime.parse_mailbox(source.from_address or mail_from)
    domain = mime.domain_of(address)
    # The template staff wrote must compile as written: its errors name their lines.
    body = compile_template(source.body, field="body", html=True)
    urls = list(link_ids or {})
    index_of = {url: index for index, url in enumerate(urls)}
    if urls:
        body = compile_template(
            tracked_links.rewrite(source.body, own_url, index_of), field="body", html=True
        )
    return CompiledCampaign(
        id=source.id,
        subject_source=source.subject,
        subject=compile_template(source.subject, field="subject", html=False),
        body=body,
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
        variants={
            variant.language: _compile_variant(variant, own_url, index_of)
            for variant in source.variants
        },
        link_ids=tuple((link_ids or {})[url] for url in urls),
        link_urls=tuple(urls),
        track_opens=source.track_opens,
        archive_public=source.archive_public,
        # Stored HTML from the campaigns service's own block template, escaped there.
        digest={
            (language, municipality): (Markup(html), text)  # noqa: S704
            for language, municipality, html, text in source.digest
        },
        test_subjects=tuple(
            (subject, compile_template(subject, field="subject", html=False))
            for subject in source.test_subjects
        ),
        test_winner=source.test_winner,
    )


def _compile_variant(
    variant: VariantSource, own_url: str, index_of: Mapping[str, int]
) -> CompiledVariant:
    body = compile_template(variant.body, field="body", html=True)
    if index_of:
        body = compile_template(
            tracked_links.rewrite(variant.body, own_url, index_of), field="body", html=True
        )
    return CompiledVariant(
        subject_source=variant.subject,
        subject=compile_template(variant.subject, field="subject", html=False),
        body=body,
        body_text=_text_template(variant),
    )


class CampaignCache:
    """Compiled campaigns per process, least recently used evicted first."""

    def __init__(self, mail_from: str, size: int = 32, own_url: str = "") -> None:
        self._mail_from = mail_from
        self._size = size
        # The public subscriptions host: links to it are ours and never tracked.
        self._own_url = own_url
        self._items: OrderedDict[tuple[int, object], CompiledCampaign] = OrderedDict()

    def cached(self, source: CampaignSource) -> CompiledCampaign | None:
        """The compiled form of ``source`` if this process has prepared it already."""
        key = (source.id, source.updated_at)
        compiled = self._items.get(key)
        if compiled is not None:
            self._items.move_to_end(key)
        return compiled

    async def prepare(self, conn: AsyncConnection, source: CampaignSource) -> CompiledCampaign:
        """The compiled form of ``source`` with its links tracked: on first use in this
        process, its links are stored (or found) in campaign_links and the body rewritten."""
        compiled = self.cached(source)
        if compiled is not None:
            return compiled
        compile_campaign(source, self._mail_from)  # a broken template fails before any write
        # One id per distinct URL of the campaign, whichever language variant it is in.
        urls = list(
            dict.fromkeys(
                url
                for body in (source.body, *(variant.body for variant in source.variants))
                for url in tracked_links.tracked_urls(body, self._own_url)
            )
        )
        link_ids = await queries.ensure_links(conn, source.id, urls)
        return self.get(source, link_ids)

    def get(
        self, source: CampaignSource, link_ids: Mapping[str, int] | None = None
    ) -> CompiledCampaign:
        """The compiled form of ``source``, compiling it on first use (with ``link_ids``
        tracked, see ``compile_campaign``)."""
        key = (source.id, source.updated_at)
        compiled = self._items.get(key)
        if compiled is None:
            compiled = compile_campaign(source, self._mail_from, link_ids, self._own_url)
            self._items[key] = compiled
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return compiled

    def clear(self) -> None:
        """Forget every compiled campaign."""
        self._items.clear()
