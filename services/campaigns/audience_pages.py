"""What the audience pages show beyond the API's figures: the growth chart in the page's
language."""

from __future__ import annotations

from markupsafe import Markup

from services.campaigns.audience_schemas import ListStatsOut
from services.campaigns.charts import time_series
from services.campaigns.errors import N_
from services.campaigns.pages import Renderer


def growth_chart(pages: Renderer, lang: str, stats: ListStatsOut) -> Markup:
    """Net growth per day (confirmations minus unsubscriptions) as a chart with its table."""
    return time_series(
        pages.gettext(lang, N_("Net growth per day, last 90 days")),
        [(day.date.strftime("%d.%m"), day.net) for day in stats.days],
        value_label=pages.gettext(lang, N_("Confirmed minus unsubscribed")),
        time_label=pages.gettext(lang, N_("Day")),
        table_label=pages.gettext(lang, N_("The figures as a table")),
    )
