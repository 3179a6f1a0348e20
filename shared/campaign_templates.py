"""The sandbox that staff-written campaign templates run in, shared by the campaigns service
(validation, preview) and the mailer (rendering per recipient)."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, select_autoescape
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.exceptions import SecurityError

from shared.errors import BrevdueError
from shared.template_limits import BoundedSandbox, Budget, TemplateLimitError, render_bounded

# Variables a campaign template may use; documented for staff in docs/templates.md.
TEMPLATE_VARIABLES = (
    "subscriber",
    "campaign",
    "unsubscribe_url",
    "preferences_url",
    "view_url",
    "digest",
)


class CampaignTemplateError(BrevdueError):
    """A staff template does not compile or fails to render."""

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        self.field = field
        self.message = message
        self.line = line
        where = f" (line {line})" if line else ""
        super().__init__(f"{field}: {message}{where}")


def _environment(autoescape: bool) -> BoundedSandbox:
    return BoundedSandbox(
        autoescape=select_autoescape(default=autoescape, default_for_string=autoescape),
        undefined=StrictUndefined,
        auto_reload=False,
        cache_size=0,
    )


HTML_ENV = _environment(autoescape=True)
TEXT_ENV = _environment(autoescape=False)


def compile_template(source: str, *, field: str, html: bool = True) -> Template:
    """Compile a staff template once; raise CampaignTemplateError on a syntax error."""
    try:
        return (HTML_ENV if html else TEXT_ENV).from_string(source)
    except TemplateSyntaxError as exc:
        raise CampaignTemplateError(field, exc.message or "syntax error", exc.lineno) from exc
    except RecursionError as exc:  # expressions nested thousands deep
        raise CampaignTemplateError(field, "nested too deeply") from exc


def render_template(
    template: Template, context: dict[str, Any], *, field: str, budget: Budget | None = None
) -> str:
    """Render a compiled staff template within its limits; sandbox violations, undefined names
    and exceeded limits are CampaignTemplateError."""
    try:
        return render_bounded(lambda: template.generate(context), budget)
    except TemplateLimitError as exc:
        raise CampaignTemplateError(field, f"exceeds a limit: {exc}") from exc
    except RecursionError as exc:
        raise CampaignTemplateError(field, "recursion too deep") from exc
    except MemoryError as exc:
        raise CampaignTemplateError(field, "needs too much memory") from exc
    except SecurityError as exc:
        raise CampaignTemplateError(field, f"not allowed in a template: {exc}") from exc
    except JinjaTemplateError as exc:
        raise CampaignTemplateError(field, exc.message or "render error") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise CampaignTemplateError(field, str(exc)) from exc


def sample_context(subscriber_name: str | None = "Maja", language: str = "da") -> dict[str, Any]:
    """A context with every variable set, for validating and previewing templates."""
    return {
        "subscriber": {"name": subscriber_name, "email": "maja@example.org", "language": language},
        "campaign": {"id": 0, "subject": ""},
        "unsubscribe_url": "https://example.org/unsubscribe/preview",
        "preferences_url": "https://example.org/preferences/preview",
        "view_url": "https://example.org/v/preview",
        # A digest campaign's events (services/campaigns/digests.py); none in a sample.
        "digest": "",
    }
