"""Rules a campaign draft meets before it is stored: field limits, and templates that compile
and render with sample data in the staff sandbox (shared.campaign_templates)."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from types import TracebackType
from typing import Any, Final

from email_validator import EmailNotValidError, validate_email

from services.campaigns.content import (
    DEFAULT_ORGANISATION,
    LAYOUTS,
    BodyFormat,
    ContentError,
    Organisation,
    compile_body,
)
from services.campaigns.errors import N_, InvalidInput
from services.campaigns.lists import SLUG
from shared import campaign_footer
from shared.campaign_templates import (
    CampaignTemplateError,
    compile_template,
    render_template,
    sample_context,
)
from shared.custom_fields import is_clean_text
from shared.html_text import html_to_text

SUBJECT_MAX: Final = 998  # RFC 5322 line limit
TEMPLATE_MAX: Final = 256_000  # characters; far beyond any real newsletter
LISTS_MAX: Final = 100


@dataclass(frozen=True)
class VariantDraft:
    """A campaign's subject and body in one more language."""

    language: str
    subject: str
    body: str
    body_text: str | None


@dataclass(frozen=True)
class Draft:
    """The editable part of a campaign. With a ``body_format`` the bodies are Markdown or HTML
    sources that compile into ``layout``; without one, each body is the HTML template itself."""

    subject: str
    body: str
    body_text: str | None
    from_address: str | None
    lists: list[str]
    # Ids of saved segments the campaign targets beside its lists (checked to exist elsewhere).
    segments: tuple[int, ...] = ()
    body_format: str | None = None
    layout: str | None = None
    fallback_language: str | None = None
    variants: tuple[VariantDraft, ...] = ()
    # A subject test's subjects beside ``subject`` (its settings are checked elsewhere).
    test_subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """A draft checked and its bodies compiled: what is stored for the mailer to render."""

    problems: dict[str, str]
    body: str
    variant_bodies: dict[str, str]


@dataclass(frozen=True)
class Rendered:
    """A draft rendered for one (sample) reader."""

    subject: str
    html: str
    text: str


def check_draft(draft: Draft) -> dict[str, str]:
    """Every problem of a draft, field by field (whether its lists exist is checked elsewhere)."""
    problems = {
        "subject": _subject_problem(draft.subject),
        "body": _template_problem(draft.body, "body", html=True),
        "body_text": (
            _template_problem(draft.body_text, "body_text", html=False)
            if draft.body_text is not None
            else None
        ),
        "from_address": (
            _address_problem(draft.from_address) if draft.from_address is not None else None
        ),
        "lists": _lists_problem(draft.lists, draft.segments),
        "body_format": _format_problem(draft),
        **_variant_problems(draft),
        **{
            f"subject_test.other_subjects.{index}": _subject_problem(subject)
            for index, subject in enumerate(draft.test_subjects)
        },
    }
    return {field: problem for field, problem in problems.items() if problem is not None}


def _format_problem(draft: Draft) -> str | None:
    if draft.body_format is not None and draft.body_format not in set(BodyFormat):
        return N_("must be markdown or html")
    if draft.layout is not None and draft.layout not in LAYOUTS:
        return "unknown layout; choose one of " + ", ".join(LAYOUTS)
    return None


def _variant_problems(draft: Draft) -> dict[str, str | None]:
    problems: dict[str, str | None] = {}
    languages = [variant.language for variant in draft.variants]
    if draft.variants and draft.fallback_language is None:
        problems["fallback_language"] = N_("variants need the language of the campaign's own text")
    if draft.fallback_language in languages or len(set(languages)) != len(languages):
        problems["variants"] = N_("one variant per language, other than the campaign's own")
    for variant in draft.variants:
        where = f"variants.{variant.language}"
        problems[f"{where}.subject"] = _subject_problem(variant.subject)
        problems[f"{where}.body"] = _template_problem(variant.body, "body", html=True)
        if variant.body_text is not None:
            problems[f"{where}.body_text"] = _template_problem(
                variant.body_text, "body_text", html=False
            )
    return problems


def prepare_draft(draft: Draft, organisation: Organisation = DEFAULT_ORGANISATION) -> Prepared:
    """Check a draft and compile its bodies (and its variants') into the HTML templates the
    mailer renders, once, at save. A body's template problems are reported at the lines staff
    wrote, before it is compiled; the compiled template is then tried as the mailer renders it."""
    problems = check_draft(draft)
    if draft.layout is not None and draft.body_format is None:
        problems["layout"] = N_("a layout needs a body written in Markdown or HTML")
    body = _compiled(draft, draft.body, "body", organisation, problems)
    variant_bodies = {
        variant.language: _compiled(
            draft, variant.body, f"variants.{variant.language}.body", organisation, problems
        )
        for variant in draft.variants
    }
    return Prepared(problems=problems, body=body, variant_bodies=variant_bodies)


def _compiled(
    draft: Draft, source: str, field: str, organisation: Organisation, problems: dict[str, str]
) -> str:
    if draft.body_format is None or field in problems or "body_format" in problems:
        return source
    try:
        compiled = compile_body(
            source, BodyFormat(draft.body_format), draft.layout or LAYOUTS[0], organisation
        )
    except ContentError as exc:
        problems[field] = str(exc)
        return source
    problem = _template_problem(compiled.html, field, html=True)
    if problem is not None:
        problems[field] = problem
    return compiled.html


def render_message(draft: Draft, context: dict[str, Any]) -> Rendered | dict[str, str]:
    """Render a draft as the mailer does for one reader; the failing field and why otherwise.
    The bodies are the stored (compiled) templates; the reader's language picks the variant.

    The subject first (the body sees it rendered as ``campaign.subject``), then HTML and text;
    without a text template the text is derived from the rendered HTML. Both get the footer in
    ``subscriber.language`` with ``unsubscribe_url`` and ``preferences_url``. Returns rather than
    raises, as it runs in a worker process (see render_pool)."""
    language = context["subscriber"]["language"]
    content = next((item for item in draft.variants if item.language == language), draft)
    try:
        subject = _render(content.subject, "subject", context, html=False)
        context = {**context, "campaign": {**context["campaign"], "subject": subject}}
        html = _render(content.body, "body", context, html=True)
        text = (
            _render(content.body_text, "body_text", context, html=False)
            if content.body_text is not None
            else html_to_text(html)
        )
    except CampaignTemplateError as exc:
        return {exc.field: _describe(exc)}
    links = (
        language,
        context["unsubscribe_url"],
        context["preferences_url"],
        context.get("view_url"),
    )
    # A layout's footer carries the links already, and so does a text part derived from it.
    if content.body_text is not None or draft.layout is None:
        text += campaign_footer.text_footer(*links)
    if draft.layout is None:
        html = campaign_footer.with_footer(html, campaign_footer.html_footer(*links))
    return Rendered(subject=subject, html=html, text=text)


def _render(source: str, field: str, context: dict[str, Any], *, html: bool) -> str:
    return render_template(compile_template(source, field=field, html=html), context, field=field)


def _subject_problem(subject: str) -> str | None:
    if not subject.strip():
        return N_("must not be empty")
    if len(subject) > SUBJECT_MAX:
        return f"must be at most {SUBJECT_MAX} characters"
    if not _one_line(subject):
        return N_("must be one line (no CR, LF or other control characters)")
    problem = _template_problem(subject, "subject", html=False)
    if problem is not None:
        return problem
    rendered = _render(subject, "subject", sample_context(), html=False)
    if not _one_line(rendered):
        return N_("must render to one line (no CR, LF or other control characters)")
    return None


def _one_line(text: str) -> bool:
    return is_clean_text(text) and not any(char in text for char in "\r\n\t")


def _template_problem(source: str, field: str, *, html: bool) -> str | None:
    if not source.strip():
        return N_("must not be empty")
    if len(source) > TEMPLATE_MAX:
        return f"must be at most {TEMPLATE_MAX} characters"
    if not is_clean_text(source):
        return N_("must not contain control characters (other than tab and line breaks)")
    try:
        _render(source, field, sample_context(), html=html)
    except CampaignTemplateError as exc:
        return _describe(exc)
    return None


def _describe(exc: CampaignTemplateError) -> str:
    line = exc.line or _template_line(exc.__cause__.__traceback__ if exc.__cause__ else None)
    return f"line {line}: {exc.message}" if line else exc.message


def _template_line(tb: TracebackType | None) -> int | None:
    # Jinja rewrites render tracebacks so template code appears as frames of "<template>"
    # at the template's own line numbers; the innermost one is where it failed.
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _address_problem(value: str) -> str | None:
    if not _one_line(value) or len(value) > 320:
        return N_("must be one address such as 'Name <news@example.org>'")
    _name, address = parseaddr(value)
    try:
        # Not globally deliverable and .test are accepted: local and test relays use them.
        # SMTPUTF8 is not assumed: the mailer sends only ASCII local parts (IDNA domains).
        validate_email(
            address,
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,
            allow_smtputf8=False,
        )
    except EmailNotValidError as exc:
        return f"is not a valid address: {exc}"
    return None


def _lists_problem(slugs: list[str], segments: tuple[int, ...]) -> str | None:
    if not slugs and not segments:
        return N_("must name at least one list or segment")
    if len(slugs) > LISTS_MAX:
        return f"must name at most {LISTS_MAX} lists"
    bad = [slug[:64] for slug in slugs if not SLUG.fullmatch(slug)]
    if bad:
        return "not a list slug: " + ", ".join(sorted(set(bad))[:10])
    return None


def must_be_valid(problems: dict[str, str]) -> None:
    """Raise InvalidInput carrying ``problems`` unless there are none."""
    if problems:
        raise InvalidInput(N_("the campaign is not valid"), problems)
