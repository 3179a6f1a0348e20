"""Which hrefs of a body template are tracked, and how the template is rewritten."""

from __future__ import annotations

from services.mailer.tracked_links import rewrite, trackable_url, tracked_urls
from shared.campaign_templates import compile_template, render_template

OWN = "https://nyhedsbrev.kultur.test"
BODY = (
    '<html><head><link rel="stylesheet" href="https://cdn.test/a.css"></head><body>\r\n'
    "<a href=\"https://a.test/?x=1&amp;y=2\">A</a> <A CLASS=b HREF='http://b.test'>B</A>\n"
    '{% if subscriber.name %}<a href="https://a.test/?x=1&y=2">A again</a>{% endif %}\n'
    '{% raw %}<a href="https://raw.test">raw</a>{% endraw %}'
    '{# <a href="https://comment.test"> #}'
    "{{ '<a href=\"https://expression.test\">' | safe }}"
    '<a href="https://c.test/{{ subscriber.language }}">lang</a>'
    '<a class="{{ subscriber.language }}" href="https://after-expression.test">x</a>'
    f'<a href="{OWN}/unsubscribe/x">own</a><a href="mailto:a@b.test">mail</a>'
    '<a href="javascript:alert(1)">js</a><a href="//scheme-relative.test">sr</a>'
    '<area href="https://map.test/1"></body></html>'
)


def test_only_literal_http_links_of_the_text_are_tracked_and_rewritten() -> None:
    urls = tracked_urls(BODY, OWN)
    assert urls == ["https://a.test/?x=1&y=2", "http://b.test", "https://map.test/1"]
    source = rewrite(BODY, OWN, {url: index for index, url in enumerate(urls)})
    html = render_template(
        compile_template(source, field="body"),
        {
            "subscriber": {"name": "Anne", "language": "da"},
            "tracked_links": ["/l/0", "/l/1", "/l/2"],
        },
        field="body",
    )
    assert html.count('href="/l/0"') == 2 and "HREF='/l/1'" in html and 'href="/l/2"' in html
    for untouched in (
        "https://cdn.test/a.css",
        "https://raw.test",
        "https://expression.test",
        "https://c.test/da",
        "https://after-expression.test",
        f"{OWN}/unsubscribe/x",
        "mailto:a@b.test",
        "javascript:alert(1)",
        "//scheme-relative.test",
    ):
        assert untouched in html, untouched
    # A URL missing from the mapping (its row could not be stored) stays as written.
    partial = rewrite(BODY, OWN, {"http://b.test": 0})
    assert "https://a.test/?x=1&amp;y=2" in partial and "{{ tracked_links[0] }}" in partial


def test_untrackable_values() -> None:
    assert trackable_url("https://a.test/x y", "") is None
    assert trackable_url("https://" + "a" * 2000, "") is None
    assert trackable_url("https://[::1", "") is None
    assert trackable_url("https:///path-only", "") is None
    assert trackable_url("  https://a.test/  ", "") == "https://a.test/"
    # A template the lexer cannot read has nothing to track (compiling reports why).
    assert tracked_urls('<a href="https://a.test">{{ "unclosed }}', "") == []
