"""Campaign content: Markdown or pasted HTML compiled once at save (cleaned, laid out, CSS
inlined), and language variants that reach each reader in their language over real SMTP."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.campaigns.content import (
    LAYOUTS,
    BodyFormat,
    ContentError,
    Organisation,
    compile_body,
)
from services.mailer.worker import run_worker
from shared.campaign_templates import compile_template, render_template, sample_context
from shared.schema import deliveries, mailing_lists, subscribers, subscriptions
from shared.settings import Settings
from tests.campaigns.conftest import Api
from tests.campaigns.staff_support import csrf_token, sign_in_as
from tests.mailer.support import FAST
from tests.support.smtp import RecordingSMTPServer

MARKDOWN = """# Hej {{ subscriber.name or "ven" }}

Programmet for **december** er klar.

{% for event in ["Koncert", "Oplæsning"] %}
- {{ event }}
{% endfor %}

[Læs mere](https://kultur.example/program) · [Indstillinger]({{ preferences_url }})
"""


def _render(template_html: str, **reader: Any) -> str:
    context = sample_context(**reader)
    return render_template(compile_template(template_html, field="body"), context, field="body")


def test_markdown_layout_and_inlining_make_inline_styles() -> None:
    organisation = Organisation(
        name="Kulturhuset <Syd>",
        postal_address="Gade 1 {{ 7 * 7 }}",
        accent_colour="#aa0000",
        footer_text="{% if true %}x{% endif %}",
    )
    for layout in LAYOUTS:
        compiled = compile_body(MARKDOWN, BodyFormat.MARKDOWN, layout, organisation)
        html = compiled.html
        # Every <style> rule became inline styles; no style element is left.
        assert "<style" not in html and "</style>" not in html
        assert re.search(r'<a href="https://kultur\.example/program" style="[^"]*#aa0000', html)
        assert re.search(r'<a href="\{\{ preferences_url \}\}" style="[^"]*#aa0000', html)
        assert re.search(r'<body style="[^"]*margin: 0', html)
        assert compiled.size == len(html.encode())
        # The staff's tags are intact; the organisation's braces never become template code.
        assert '{{ subscriber.name or "ven" }}' in html
        assert "Kulturhuset &lt;Syd&gt;" in html
        assert "&#123;&#123; 7 * 7 &#125;&#125;" in html and "&#123;% if true %&#125;" in html
        # A statement line adds no paragraph of its own.
        assert "<p>{% for" not in html
        rendered = _render(html, subscriber_name="", language="sv")
        assert re.search(r"<h1[^>]*>Hej ven</h1>", rendered)
        assert re.search(r"<li[^>]*>Koncert", rendered) and re.search(
            r"<li[^>]*>Oplæsning", rendered
        )
        assert "49" not in rendered
        # The footer carries the reader's links, in the reader's language.
        assert 'href="https://example.org/unsubscribe/preview"' in rendered
        assert 'href="https://example.org/preferences/preview"' in rendered
        assert ">Avsluta</a>" in rendered and "Du får detta mejl" in rendered
        assert ">Afmeld</a>" in _render(html, language="da")


def test_pasted_html_is_cleaned_around_template_tags() -> None:
    pasted = (
        '<p onclick="steal()" style="color: #333">Hej {{ subscriber.name }}</p>'
        "<script>alert(1)</script><iframe src=https://evil.example></iframe>"
        '<a href="javascript:alert(1)">x</a> <a href="{{ preferences_url }}">prefs</a>'
        '<img src="https://kultur.example/a.png" alt="A" onerror="x()">'
        # Cleaning that removes the script would join the braces into a tag: it may not.
        "<p>{<script></script>{ 7 * 7 }}</p><!-- a comment -->"
    )
    html = compile_body(pasted, BodyFormat.HTML, "simple").html
    for gone in ("onclick", "<script", "<iframe", "javascript:", "onerror", "comment"):
        assert gone not in html
    assert '<p style="color: #333">Hej {{ subscriber.name }}</p>' in html
    assert '<a href="{{ preferences_url }}"' in html
    assert re.search(r'<img src="https://kultur\.example/a\.png" alt="A"[^>]*>', html)
    rendered = _render(html, subscriber_name="Maja")
    assert "Hej Maja" in rendered and "49" not in rendered
    assert "&#123;&#123; 7 * 7 &#125;&#125;" in rendered
    # A template tag inside markup cleaning removes would silently vanish: refused instead.
    with pytest.raises(ContentError, match="subscriber.email"):
        compile_body("<p>x</p><script>{{ subscriber.email }}</script>", BodyFormat.HTML, "card")
    with pytest.raises(ContentError, match="unknown layout"):
        compile_body("x", BodyFormat.HTML, "../../etc/passwd")


async def _reader(conn: sa.ext.asyncio.AsyncConnection, email: str, lang: str, key: str) -> int:
    now = sa.func.now()
    result = await conn.execute(
        sa.insert(subscribers).values(
            key=key,
            email=email,
            name=email.split("@", maxsplit=1)[0].title(),
            language=lang,
            status="active",
            created_at=now,
            updated_at=now,
            confirmed_lists=1,  # as the subscriptions service keeps it: confirmed on kultur
        )
    )
    subscriber_id = int(result.inserted_primary_key[0])
    kultur = (
        await conn.execute(sa.select(mailing_lists.c.id).where(mailing_lists.c.slug == "kultur"))
    ).scalar_one()
    await conn.execute(
        sa.insert(subscriptions).values(
            subscriber_id=subscriber_id,
            list_id=kultur,
            status="confirmed",
            requested_at=now,
            confirmed_at=now,
        )
    )
    return subscriber_id


def _parts(message: EmailMessage) -> tuple[str, str]:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return str(html.get_content()), str(text.get_content())


async def test_da_sv_variants_reach_each_recipient_in_their_language(
    api: Api, db: AsyncEngine, settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    campaign = {
        "subject": "Nyt fra kulturhuset",
        "body": "# Hej {{ subscriber.name or 'ven' }}\n\nDansk tekst.",
        "lists": ["kultur"],
        "body_format": "markdown",
        "layout": "banner",
        "fallback_language": "da",
        "variants": [
            {"language": "sv", "subject": "Nytt från kulturhuset", "body": "# Hej!\n\nSvensk text."}
        ],
    }
    # Refusals name the field: a variant in the campaign's own language, a layout without a
    # format, a tag that cleaning would drop.
    for changes, field in [
        ({"variants": [{"language": "da", "subject": "x", "body": "x"}]}, "variants"),
        ({"body_format": None}, "layout"),
        ({"body": "<script>{{ subscriber.email }}</script>"}, "body"),
        (
            {"variants": [{"language": "sv", "subject": "x", "body": "{{ nope }}"}]},
            "variants.sv.body",
        ),
    ]:
        refused = await api.post("/api/campaigns", json={**campaign, **changes})
        assert refused.status_code == 422, refused.text
        assert field in refused.json()["errors"], refused.json()

    created = await api.post("/api/campaigns", json=campaign)
    assert created.status_code == 201, created.text
    body = created.json()
    campaign_id = body["id"]
    # Staff get back what they wrote; the compiled template is stored beside it.
    assert body["body"] == campaign["body"] and body["body_format"] == "markdown"
    assert body["layout"] == "banner" and body["fallback_language"] == "da"
    assert body["variants"][0]["body"] == "# Hej!\n\nSvensk text."
    assert "<style" not in body["compiled_body"] and 'style="' in body["compiled_body"]

    preview = await api.post(f"/api/campaigns/{campaign_id}/preview", json={"language": "sv"})
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert shown["subject"] == "Nytt från kulturhuset" and "Svensk text." in shown["html"]
    assert shown["html"].count("/unsubscribe/") == 1  # the layout's footer, no second one
    assert 0 < shown["size"] < 102 * 1024 and shown["clipped"] is False
    tested = await api.post(
        f"/api/campaigns/{campaign_id}/test", json={"to": ["staff@kultur.test"], "language": "sv"}
    )
    assert tested.status_code == 202, tested.text
    assert tested.json()["subject"] == "[TEST] Nytt från kulturhuset"

    async with db.begin() as conn:
        ids = {
            email: await _reader(conn, email, lang, f"k{n}")
            for n, (email, lang) in enumerate(
                [("anne@example.dk", "da"), ("bjorn@example.se", "sv"), ("carl@example.org", "en")]
            )
        }
    # The campaign page's test send, per variant too.
    async with httpx.AsyncClient(base_url=str(api.client.base_url), timeout=20) as browser:
        await sign_in_as(browser, settings, "editor")
        page = await browser.get(f"/app/campaigns/{campaign_id}")
        assert 'id="test-language"' in page.text
        tested_in_app = await browser.post(
            f"/app/campaigns/{campaign_id}/test",
            data={"to": "editor@kultur.test", "language": "sv", "_csrf_token": csrf_token(page)},
        )
        assert tested_in_app.status_code == 200, tested_in_app.text

    sent = await api.post(f"/api/campaigns/{campaign_id}/send")
    assert sent.status_code == 202, sent.text
    await run_worker(settings, burst=True, options=FAST)

    expected = {
        "anne@example.dk": ("Nyt fra kulturhuset", "Dansk tekst.", "Afmeld", "da"),
        "bjorn@example.se": ("Nytt från kulturhuset", "Svensk text.", "Avsluta", "sv"),
        # No English variant: the fallback language's text, the footer in English.
        "carl@example.org": ("Nyt fra kulturhuset", "Dansk tekst.", "Unsubscribe", "da"),
    }
    for email, (subject, words, leave, _variant) in expected.items():
        [received] = [
            m for m in smtp_server.to(email) if "[TEST]" not in str(m.parsed()["Subject"])
        ]
        message = received.parsed()
        assert message["Subject"] == subject
        html, text = _parts(message)
        assert words in html and words in text
        assert f">{leave}</a>" in html
        # One footer: the layout's links, in HTML and in the text part derived from it.
        assert html.count("/unsubscribe/") == 1 and text.count("/unsubscribe/") == 1
        assert "<style" not in html and "background: #1d4e89" in html
    [test_mail] = smtp_server.to("editor@kultur.test")
    assert test_mail.parsed()["Subject"] == "[TEST] Nytt från kulturhuset"
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(deliveries.c.subscriber_id, deliveries.c.variant).where(
                    deliveries.c.campaign_id == campaign_id
                )
            )
        ).all()
    got = {row.subscriber_id: row.variant for row in rows}
    assert got == {ids[email]: wanted[3] for email, wanted in expected.items()}
    # The campaign's figures split by variant.
    progress = (await api.get(f"/api/campaigns/{campaign_id}/progress")).json()
    assert progress["sent"] == 3
    assert progress["variants"] == [
        {"language": "da", "sent": 2, "failed": 0, "bounced": 0},
        {"language": "sv", "sent": 1, "failed": 0, "bounced": 0},
    ]
    async with httpx.AsyncClient(
        base_url=str(api.client.base_url), headers={"Accept-Language": "en"}, timeout=20
    ) as browser:
        await sign_in_as(browser, settings, "viewer")
        fragment = (await browser.get(f"/app/campaigns/{campaign_id}/progress")).text
    assert "By language variant" in fragment
    assert re.search(r'id="variant-sv"><th scope="row">Swedish</th><td>1</td>', fragment)


async def test_admins_set_the_organisation_layout_that_drafts_are_compiled_with(api: Api) -> None:
    default = await api.get("/api/organisation")
    assert default.status_code == 200 and default.json()["accent_colour"] == "#1d4e89"
    layout = {
        "name": "Kulturhuset Syd",
        "logo_url": "https://kultur.example/logo.png",
        "postal_address": "Storgatan 1, 211 34 Malmö",
        "accent_colour": "#7a1f5c",
        "background_colour": "#fafafa",
        "footer_text": "Vi ses i kulturhuset!",
    }
    refused = await api.client.put(
        "/api/organisation",
        headers=api.headers("admin"),
        json={
            **layout,
            "name": " ",
            "logo_url": "javascript:alert(1)",
            "accent_colour": "red;}body{x",
        },
    )
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"name", "logo_url", "accent_colour"}
    saved = await api.client.put("/api/organisation", headers=api.headers("admin"), json=layout)
    assert saved.status_code == 200, saved.text
    assert (await api.get("/api/organisation")).json() == layout

    created = await api.post(
        "/api/campaigns",
        json={
            "subject": "Nyt",
            "body": "Hej",
            "lists": ["kultur"],
            "body_format": "markdown",
            "layout": "card",
        },
    )
    assert created.status_code == 201, created.text
    compiled = created.json()["compiled_body"]
    assert '<img src="https://kultur.example/logo.png" alt="Kulturhuset Syd"' in compiled
    assert "Storgatan 1, 211 34 Malmö" in compiled and "Vi ses i kulturhuset!" in compiled
    assert "border-top: 6px solid #7a1f5c" in compiled
    audit = await api.get("/api/audit", role="admin", params={"object": "organisation"})
    assert [entry["action"] for entry in audit.json()["entries"]] == ["organisation.update"]
