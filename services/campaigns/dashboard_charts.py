"""The overview's and a member site's sign-up charts, labelled in the page's language."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from babel.dates import format_date
from markupsafe import Markup

from services.campaigns import charts
from services.campaigns.dashboard_schemas import DashboardOut
from services.campaigns.errors import N_
from services.campaigns.schemas import DayCount

Gettext = Callable[[str], str]


def _day(day: date, lang: str) -> str:
    return format_date(day, "d MMM", locale=lang)


def days_chart(days: Sequence[DayCount], lang: str, _: Gettext, caption: str) -> Markup:
    """Confirmed sign-ups per day as a line chart with its table."""
    return charts.time_series(
        caption,
        [(_day(item.date, lang), item.signups) for item in days],
        value_label=_(N_("Sign-ups")),
        time_label=_(N_("Day")),
        table_label=_(N_("Show the figures as a table")),
    )


def overview_charts(data: DashboardOut, lang: str, _: Gettext) -> dict[str, Markup]:
    """The overview's three charts: per day, per member site and per list."""
    sites = [(item.name or _(N_("Without a member site")), item.signups) for item in data.sites]
    lists = [(getattr(item.names, lang, item.slug), item.signups) for item in data.lists]
    return {
        "days": days_chart(data.days, lang, _, _(N_("Confirmed sign-ups per day, last 30 days"))),
        "sites": charts.bars(
            _(N_("Confirmed sign-ups per member site, last 30 days")),
            sites,
            value_label=_(N_("Sign-ups")),
            name_label=_(N_("Member site")),
            table_label=_(N_("Show the figures as a table")),
        ),
        "lists": charts.bars(
            _(N_("Confirmed sign-ups per list, last 30 days")),
            lists,
            value_label=_(N_("Sign-ups")),
            name_label=_(N_("List")),
            table_label=_(N_("Show the figures as a table")),
        ),
    }
