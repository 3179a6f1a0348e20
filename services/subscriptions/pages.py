"""Residents' HTML pages: Jinja2 templates rendered with the gettext catalog of a language."""

from __future__ import annotations

import gettext
import re
import secrets
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.enums import MediaType
from markupsafe import escape

from services.subscriptions import municipality_choice, public_fields
from services.subscriptions.consent import CONSENT_TEXT_VERSION
from services.subscriptions.errors import FieldProblem, ListChoice
from services.subscriptions.i18n import N_, language_names, negotiate_language
from services.subscriptions.queries import CustomFieldRow
from shared.languages import LANGUAGES

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"

# Pages carry tokens in their URLs, so they must not leak through Referer or be cached;
# they load nothing from elsewhere and need no script.
PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
# The sign-up form when it needs a proof of work: our own widget.js solves it and fetches the
# challenge from this service, nothing else.
PROOF_OF_WORK_PAGE_HEADERS: Final = {
    **PAGE_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

# The order fields appear in on the form, so the error summary follows it.
FIELD_ORDER: Final = (
    "email",
    "name",
    "lists",
    "birth_year",
    "guardian_email",
    "language",
    "municipality",
    "consent",
    "site",
    "altcha",
    "body",
)

_MESSAGES: Final[Mapping[tuple[str, str], str]] = {
    ("email", "required"): N_("Enter your email address."),
    ("email", "invalid"): N_("Enter a valid email address, for example name@example.dk."),
    ("email", "unsupported"): N_(
        "We cannot send to addresses with letters such as æ, ø, å, ä or ö before the @. "
        "Please use another address."
    ),
    ("email", "too_long"): N_("The email address is too long (at most %(detail)s characters)."),
    ("email", "undeliverable"): N_(
        "The domain of this email address does not receive email. Check the address."
    ),
    ("lists", "required"): N_("Choose at least one newsletter."),
    ("lists", "unknown"): N_(
        "There is no newsletter called “%(detail)s” that you can sign up for."
    ),
    ("lists", "too_many"): N_("Choose at most %(detail)s newsletters."),
    ("birth_year", "required"): N_(
        "Enter your year of birth: one of the newsletters you chose is for children and "
        "young people."
    ),
    ("birth_year", "invalid"): N_("Enter your year of birth as four digits, for example 2012."),
    ("guardian_email", "required"): N_(
        "You are under %(detail)s: enter your parent's or guardian's email address, so they "
        "can agree."
    ),
    ("guardian_email", "invalid"): N_(
        "Enter a valid email address for your parent or guardian, for example name@example.dk."
    ),
    ("language", "required"): N_("Choose a language."),
    ("language", "invalid"): N_("Choose Danish, Swedish or English."),
    ("name", "too_long"): N_("The name is too long (at most %(detail)s characters)."),
    ("name", "invalid"): N_("The name contains characters we cannot store."),
    ("municipality", "unknown"): N_("Choose a municipality from the list."),
    ("consent", "required"): N_("Tick the box to agree to receive the newsletter."),
    ("site", "invalid"): N_("The site key is not valid."),
    ("site", "unknown"): N_("This sign-up form belongs to a website we do not know."),
    ("altcha", "required"): N_(
        "This form needs JavaScript to check that you are not a robot. "
        "Please turn JavaScript on and try again."
    ),
    ("altcha", "invalid"): N_("The check that you are not a robot failed. Please try again."),
    ("altcha", "expired"): N_(
        "The check that you are not a robot took too long. Please send the form again."
    ),
    ("altcha", "used"): N_(
        "This form has already been sent. Please reload the page and try again."
    ),
    ("body", "invalid_json"): N_("The request body is not valid JSON."),
    ("body", "not_object"): N_("The request body must be a JSON object."),
    ("body", "too_deep"): N_("The request body is nested too deeply to be a sign-up."),
}
_MESSAGES_BY_CODE: Final[Mapping[str, str]] = {
    "required": N_("This field is required."),
    "wrong_type": N_("This value has the wrong type."),
    "too_long": N_("This value is too long."),
    "must_be_ticked": N_("Tick this box to continue."),
    "unknown_field": N_("This field cannot be filled in on this form."),
}
_FALLBACK_MESSAGE: Final = N_("This value is not valid.")
_LOCAL_PATH: Final = re.compile(r"/(?![/\\])")
# Renderings kept per Renderer (languages times list choices, in practice a few dozen).
_MAX_SKELETONS: Final = 512


class Renderer:
    """One Jinja2 environment per language, each with that language's gettext catalog."""

    def __init__(
        self,
        translations: Mapping[str, gettext.GNUTranslations],
        templates_dir: Path = TEMPLATES_DIR,
    ) -> None:
        loader = FileSystemLoader(templates_dir)
        self._translations = dict(translations)
        self._environments = {
            lang: self._environment(loader, catalog) for lang, catalog in translations.items()
        }
        # render_filled's renderings, by template, language and context, and the mark of a
        # slot in them: with a secret of this renderer's, so no value or text can hold it.
        self._skeletons: dict[Hashable, str] = {}
        self._slot_mark = f"\x00{secrets.token_hex(8)}:{{}}\x00"
        self._slot_pattern = re.compile(re.escape(self._slot_mark).replace(r"\{\}", r"(\w+)"))

    @staticmethod
    def _environment(loader: FileSystemLoader, catalog: gettext.GNUTranslations) -> Environment:
        env = Environment(
            loader=loader,
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
        return env

    def gettext(self, lang: str, message: str) -> str:
        """Translate one message into ``lang``."""
        return self._translations[lang].gettext(message)

    def render(self, template: str, lang: str, **context: Any) -> str:
        """Render a template in ``lang``."""
        return self._environments[lang].get_template(template).render(lang=lang, **context)

    def render_filled(
        self,
        template: str,
        lang: str,
        slots: Mapping[str, str | None],
        *,
        constants: Mapping[str, Any] | None = None,
        **context: Hashable,
    ) -> str:
        """``render(template, lang, **slots, **context)``, with the template rendered once per
        template, language and ``context``, and each slot's value put into that rendering.

        For the pages and mails of the busiest requests, where all that differs from one
        request to the next is a link or a token: those are the slots. A slot must be a value
        the template writes out as it is (``{{ token }}``, or as a gettext variable), escaped in
        HTML; a slot that is None or empty may decide an ``{% if %}``, so it is part of the
        key instead. ``constants`` are the same for every call (not part of the key).
        tests/subscriptions/test_filled_templates.py holds every use equal to ``render``.
        """
        filled = {name: value for name, value in slots.items() if value}
        fixed = {name: value for name, value in slots.items() if not value}
        key = (template, lang, tuple(sorted({**context, **fixed}.items())), tuple(sorted(filled)))
        skeleton = self._skeletons.get(key)
        if skeleton is None:
            if len(self._skeletons) >= _MAX_SKELETONS:
                self._skeletons.clear()
            marks = {name: self._slot_mark.format(name) for name in filled}
            skeleton = self.render(template, lang, **marks, **fixed, **(constants or {}), **context)
            self._skeletons[key] = skeleton
        if template.endswith(".html"):  # as select_autoescape(["html"]) decides
            filled = {name: str(escape(value)) for name, value in filled.items()}
        # One pass: a value put in is not searched for marks again.
        return self._slot_pattern.sub(lambda mark: str(filled[mark.group(1)]), skeleton)

    def problem_messages(self, lang: str, problems: Mapping[str, FieldProblem]) -> dict[str, str]:
        """Readable reasons per field, in form order, in ``lang``."""
        ordered = sorted(problems.items(), key=lambda item: _field_position(item[0]))
        return {field: self._problem_message(lang, field, p) for field, p in ordered}

    def _problem_message(self, lang: str, field: str, problem: FieldProblem) -> str:
        message = _MESSAGES.get((field, problem.code)) or _MESSAGES_BY_CODE.get(
            problem.code, _FALLBACK_MESSAGE
        )
        translated = self.gettext(lang, message)
        return translated % {"detail": problem.detail} if "%(detail)s" in translated else translated

    def page(
        self,
        template: str,
        lang: str,
        *,
        path: str,
        status_code: int = 200,
        slots: Mapping[str, str | None] | None = None,
        **context: Any,
    ) -> Response[str]:
        """An HTML page response with the shared security headers. With ``slots``, rendered
        as ``render_filled`` renders (the path is a slot too; ``context`` must be hashable)."""
        # The path feeds the language links; "//host" or "/\\host" would point off-site.
        safe_path = path if _LOCAL_PATH.match(path) else "/subscribe"
        if slots is None:
            html = self.render(
                template, lang, path=safe_path, languages=language_names(), **context
            )
        else:
            html = self.render_filled(
                template,
                lang,
                {"path": safe_path, **slots},
                constants={"languages": language_names()},
                **context,
            )
        return Response(
            html, status_code=status_code, media_type=MediaType.HTML, headers=PAGE_HEADERS
        )

    def subscribe_form(
        self,
        lang: str,
        *,
        path: str,
        choices: Sequence[ListChoice],
        values: Mapping[str, Any] | None = None,
        problems: Mapping[str, FieldProblem] | None = None,
        status_code: int = 200,
        fields: Sequence[CustomFieldRow] = (),
        proof_of_work: bool = False,
        age: int = 13,
    ) -> Response[str]:
        """The sign-up form with the public custom ``fields``, with reasons next to the fields
        after a refused attempt; with ``proof_of_work`` it loads the script that solves one."""
        shown: dict[str, Any] = {
            "email": "",
            "lists": [],
            "language": lang,
            "name": "",
            "consent": False,
            "site": "",
            "custom": {},
            "birth_year": "",
            "guardian_email": "",
        }
        shown.update({k: v for k, v in (values or {}).items() if v is not None})
        if shown["language"] not in LANGUAGES:
            shown["language"] = lang
        response = self.page(
            "subscribe.html",
            lang,
            path=path,
            status_code=status_code,
            choices=[(c.slug, c.names.get(lang) or c.slug) for c in choices],
            values=shown,
            errors=self.problem_messages(lang, problems or {}),
            custom_fields=public_fields.form_fields(fields, lang),
            consent_version=CONSENT_TEXT_VERSION,
            proof_of_work=proof_of_work,
            youth_lists=[c.names.get(lang) or c.slug for c in choices if c.youth],
            age=age,
            # Shown only when the form sent one (values then hold "municipality").
            municipalities=municipality_choice.groups(self, lang),
        )
        if proof_of_work:
            response.headers.update(PROOF_OF_WORK_PAGE_HEADERS)
        return response


def _field_position(field: str) -> float:
    # Custom fields stand between the language and the consent box on every form.
    if field.startswith(public_fields.PREFIX):
        return FIELD_ORDER.index("consent") - 0.5
    return FIELD_ORDER.index(field) if field in FIELD_ORDER else 99


def request_language(request: Request[Any, Any, Any], fallback: str | None = None) -> str:
    """The page language: ``?lang=``, then ``fallback`` (a stored choice), then
    Accept-Language, then Danish."""
    return negotiate_language(
        request.query_params.get("lang"), request.headers.get("accept-language"), fallback
    )


def wants_json(request: Request[Any, Any, Any]) -> bool:
    """True when the client sent JSON or asks for JSON rather than a page."""
    media_type = request.content_type[0]
    if media_type == "application/json" or media_type.endswith("+json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept
