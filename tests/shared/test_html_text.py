"""HTML to the plain-text alternative of a campaign without a written text version."""

from __future__ import annotations

from shared.html_text import html_to_text


def test_html_to_text() -> None:
    text = html_to_text(
        '<h1>Nyt</h1><p>Læs <a href="https://x.dk/a">mere</a></p><style>p{}</style>'
    )
    assert text == "Nyt\n\nLæs mere (https://x.dk/a)"


def test_scripts_head_and_title_are_dropped() -> None:
    text = html_to_text(
        "<html><head><title>T</title></head><body><script>alert(1)</script><p>Body</p></body>"
    )
    assert text == "Body"


def test_entities_decode_and_whitespace_collapses() -> None:
    assert html_to_text("<p>a &amp;   b\n\n\n\n</p><p>c &lt;d&gt;</p>") == "a & b\n\nc <d>"


def test_only_web_links_are_kept() -> None:
    text = html_to_text('<a href="mailto:x@y.dk">mail</a> <a href="javascript:x()">js</a>')
    assert text == "mail js"


def test_many_blank_lines_become_one() -> None:
    assert html_to_text("<p>a</p><br><br><br><div></div><p>b</p>") == "a\n\nb"
