"""A campaign body as staff write it (Markdown or HTML) compiled, once at save, into the HTML
template the mailer renders per recipient: cleaned, wrapped in a layout, with its CSS inlined.

Staff text holds Jinja tags (``{{ subscriber.name or "ven" }}``, ``{% if … %}``) that must
reach the mailer unchanged, while everything around them is Markdown or pasted HTML to clean.
Each tag is swapped for a random placeholder word first; Markdown, nh3, the layout and
css-inline only ever see that word, and the tags come back at the very end. Before they do,
every brace left in the compiled HTML becomes a character reference, so nothing that cleaning
removed (``{<script></script>{ x }}``) or an organisation setting held can become template code:
the only template code in the result is the staff's own tags, exactly as they wrote them."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import css_inline
import nh3
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from shared.campaign_footer import FOOTER, VIEW_IN_BROWSER


class BodyFormat(StrEnum):
    """How staff wrote a campaign body."""

    MARKDOWN = "markdown"
    HTML = "html"


LAYOUTS_DIR: Final = Path(__file__).parent / "layouts"
# The starting layouts, each a file in LAYOUTS_DIR; the first is the default.
LAYOUTS: Final = ("simple", "banner", "card")
# Gmail clips a message whose HTML is larger than about 102 KB; the editor warns above it.
GMAIL_CLIP_BYTES: Final = 102 * 1024

# A Jinja tag: expression, statement or comment (non-greedy, so a string holding "}}" inside
# a tag splits it early; the tag then no longer compiles and staff see why at save).
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)

# What pasted HTML may keep: nh3's defaults plus the presentational attributes e-mail uses.
_PRESENTATION = {"style", "class", "align", "valign", "width", "height", "bgcolor", "dir"}
_ATTRIBUTES: Final = {
    **{tag: set(values) for tag, values in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": _PRESENTATION | {"title", "lang"},
    "a": {"href", "hreflang", "target"},
    "img": {"src", "alt", "width", "height", "align", "border"},
    "table": {"align", "summary", "border", "cellpadding", "cellspacing", "role"},
}
_TAGS: Final = set(nh3.ALLOWED_TAGS) | {"font", "tfoot"}
_SCHEMES: Final = {"http", "https", "mailto", "tel"}

_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

_LAYOUT_ENV = Environment(
    loader=FileSystemLoader(LAYOUTS_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    auto_reload=False,
)


@dataclass(frozen=True, slots=True)
class Organisation:
    """The organisation layout's settings: what every layout shows around the body."""

    name: str = "KulturMetropolØresund"
    logo_url: str = ""
    postal_address: str = ""
    accent_colour: str = "#1d4e89"
    background_colour: str = "#f4f4f4"
    footer_text: str = ""


DEFAULT_ORGANISATION: Final = Organisation()


class ContentError(ValueError):
    """The body cannot be compiled as written (a template tag inside markup that cleaning
    removed, an unknown layout)."""


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled body: the HTML template for the mailer and its size in bytes (UTF-8)."""

    html: str
    size: int


class _Placeholders:
    """Template tags swapped for random words, and swapped back."""

    def __init__(self) -> None:
        # Random per compile: staff cannot type a word that restores into a tag.
        self._prefix = f"brevdue{secrets.token_hex(6)}t"
        self.tags: dict[str, str] = {}

    def word(self, tag: str) -> str:
        """A placeholder that stands for ``tag``: letters and digits only, so Markdown,
        nh3 and the CSS inliner keep it as it is, in text and in attributes alike."""
        word = f"{self._prefix}{len(self.tags)}x"
        self.tags[word] = tag
        return word

    def protect(self, source: str) -> str:
        """``source`` with each of its template tags swapped for a placeholder."""
        return _TAG.sub(lambda match: self.word(match.group(0)), source)

    def unwrap_statements(self, html: str) -> str:
        """A statement or comment alone in a paragraph (Markdown makes one of a line of its
        own) stands without the paragraph, so ``{% for %}`` adds no empty paragraphs."""
        for word, tag in self.tags.items():
            if not tag.startswith("{{"):
                html = html.replace(f"<p>{word}</p>", word)
        return html

    def restore(self, html: str) -> str:
        """``html`` with every brace turned into a character reference, then the template
        tags put back; a tag whose placeholder cleaning removed is a ContentError."""
        html = html.replace("{", "&#123;").replace("}", "&#125;")
        # One pass over the HTML, however many tags it has.
        words = re.compile(re.escape(self._prefix) + r"\d+x")
        found = Counter(words.findall(html))
        for word, tag in self.tags.items():
            if found[word] != 1:
                raise ContentError(
                    f"the template tag {tag[:60]!r} stands inside HTML markup that is not "
                    "allowed in a campaign; put it in text or in an attribute value"
                )
        return words.sub(lambda match: self.tags[match.group(0)], html)


def clean_html(html: str) -> str:
    """Pasted HTML reduced to what a newsletter body may hold: no scripts, forms, frames,
    event handlers or ``javascript:`` links; presentational attributes and styles kept."""
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )


def compile_body(
    source: str,
    body_format: BodyFormat,
    layout: str,
    organisation: Organisation = DEFAULT_ORGANISATION,
) -> Compiled:
    """The HTML template the mailer renders for ``source``: Markdown rendered (or HTML taken
    as it is), cleaned with nh3, wrapped in ``layout`` with the organisation's settings and the
    footer with each reader's unsubscribe and preference links, and every ``<style>`` rule
    inlined into ``style`` attributes. Raises ContentError."""
    if layout not in LAYOUTS:
        raise ContentError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    tags = _Placeholders()
    protected = tags.protect(source)
    if body_format == BodyFormat.MARKDOWN:
        protected = tags.unwrap_statements(_MARKDOWN.render(protected))
    cleaned = clean_html(protected)
    document = _LAYOUT_ENV.get_template(f"{layout}.html").render(
        content=Markup(cleaned),  # noqa: S704 - cleaned by nh3 just above
        org=organisation,
        unsubscribe_url=Markup(tags.word("{{ unsubscribe_url }}")),  # noqa: S704
        preferences_url=Markup(tags.word("{{ preferences_url }}")),  # noqa: S704
        view_url=Markup(tags.word("{{ view_url }}")),  # noqa: S704
        say={
            key: Markup(tags.word(_by_language(key)))  # noqa: S704
            for key in ("reason", "leave", "prefs", "view")
        },
        safe_colour=safe_colour,
    )
    inlined = css_inline.inline(document, load_remote_stylesheets=False, keep_style_tags=False)
    html = tags.restore(inlined)
    return Compiled(html=html, size=len(html.encode()))


def _by_language(key: str) -> str:
    # The footer in each reader's own language, as the mailer's own footer is: a template
    # statement chosen per recipient, with the texts fixed (and escaped) at compile time.
    if key == "view":
        texts = {language: str(escape(label)) for language, label in VIEW_IN_BROWSER.items()}
    else:
        index = {"reason": 0, "leave": 1, "prefs": 2}[key]
        texts = {language: str(escape(words[index])) for language, words in FOOTER.items()}
    return (
        f'{{% if subscriber.language == "sv" %}}{texts["sv"]}'
        f'{{% elif subscriber.language == "en" %}}{texts["en"]}'
        f"{{% else %}}{texts['da']}{{% endif %}}"
    )


_COLOUR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")


def safe_colour(value: str, default: str) -> str:
    """``value`` if it is a hex colour (#abc or #aabbcc), else ``default``: a setting that
    ends up inside CSS cannot carry anything but a colour."""
    return value if _COLOUR.fullmatch(value) else default


def rendered_size(html: str) -> int:
    """Size in bytes of rendered HTML as it goes out (UTF-8)."""
    return len(html.encode())
