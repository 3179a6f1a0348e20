"""A list's Atom feed (RFC 4287) of its public campaigns, written with the standard library's
ElementTree (which escapes every text and attribute)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from services.subscriptions.archive import Copy, archive_path
from services.subscriptions.queries import ArchivedCampaign

ATOM = "http://www.w3.org/2005/Atom"


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def atom_feed(
    *,
    public_url: str,
    slug: str,
    title: str,
    lang: str,
    entries: Sequence[tuple[ArchivedCampaign, Copy]],
) -> bytes:
    """The feed document: one entry per campaign, newest first, linking to its archive page."""
    base = public_url.rstrip("/")
    feed = ET.Element("feed", {"xmlns": ATOM, "xml:lang": lang})
    _add(feed, "id", f"{base}/archive/lists/{slug}")
    _add(feed, "title", title)
    updated = max((campaign.sent_at for campaign, _ in entries), default=datetime(2026, 1, 1))
    _add(feed, "updated", updated.astimezone(UTC).isoformat())
    _add(feed, "link", rel="self", href=f"{base}/archive/lists/{slug}/feed.atom?lang={lang}")
    _add(feed, "link", rel="alternate", type="text/html", href=f"{base}/archive/lists/{slug}")
    author = _add(feed, "author")
    _add(author, "name", "KulturMetropolØresund")
    for campaign, copy in entries:
        entry = _add(feed, "entry")
        page = f"{base}{archive_path(campaign.id)}"
        _add(entry, "id", page)
        _add(entry, "title", copy.subject)
        _add(entry, "updated", campaign.sent_at.astimezone(UTC).isoformat())
        _add(entry, "link", rel="alternate", type="text/html", href=f"{page}?lang={lang}")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
