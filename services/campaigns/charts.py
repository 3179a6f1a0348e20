"""Charts for the staff app: SVG drawn on the server by pygal, with the figures as a table.

The SVG is inlined in the page, so it shows without any network and without JavaScript. A
chart alone says nothing to a screen reader, so each one comes with its figures as a table in a
``<details>`` element, and the SVG itself is marked as an image named by the chart's caption.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import pygal
from markupsafe import Markup, escape
from pygal.style import Style

# Dark, distinct colours: at least 3:1 against white for the lines and bars (WCAG 1.4.11).
_STYLE: Final = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1b1b",
    foreground_strong="#1b1b1b",
    foreground_subtle="#595959",
    colors=("#0b4f8a", "#a8400a", "#2e6b1f", "#6b2e8a", "#8a0b3a"),
    font_family="system-ui, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=12,
    legend_font_size=13,
    title_font_size=15,
)
_ID: Final = re.compile(r'id="(chart-[0-9a-f-]+)"')
# pygal adds a comment with its home page and a config script for its optional tooltips,
# which are not loaded (no js files): both are dropped, so the page holds no outside address.
_COMMENT: Final = re.compile(r"<!--.*?-->", re.S)
_SCRIPT: Final = re.compile(r"<script\b.*?</script>", re.S)


def _config(**options: object) -> dict[str, object]:
    return {
        "js": [],
        "disable_xml_declaration": True,
        "style": _STYLE,
        "width": 720,
        "height": 260,
        "margin": 12,
        "show_legend": False,
        "print_values": False,
        "explicit_size": False,
        "show_minor_x_labels": False,
        # pygal shortens labels to fit all of them, minor ones too: "29.11" became "…".
        "truncate_label": -1,
        **options,
    }


def _figure(
    caption: str,
    svg: str,
    headers: tuple[str, ...],
    rows: Sequence[Sequence[object]],
    table_label: str,
) -> Markup:
    match = _ID.search(svg)
    chart_id = match.group(1) if match else "chart"
    svg = _SCRIPT.sub("", _COMMENT.sub("", svg))
    svg = svg.replace(
        "<svg ",
        f'<svg role="img" aria-labelledby="{chart_id}-caption" focusable="false" ',
        1,
    )
    head = "".join(f'<th scope="col">{escape(cell)}</th>' for cell in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    # Every text put in here is escaped; the SVG is pygal's own, which escapes its labels.
    return Markup(  # noqa: S704
        '<figure class="chart">'
        f'<figcaption id="{chart_id}-caption">{escape(caption)}</figcaption>'
        f"{svg}"
        f"<details><summary>{escape(table_label)}</summary>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></details>"
        "</figure>"
    )


def _x_labels(labels: Sequence[str], most: int = 12) -> tuple[list[str], list[str]]:
    # Long series keep every point but name only about ``most`` of them on the axis.
    step = max(1, -(-len(labels) // most))
    major = [label for index, label in enumerate(labels) if index % step == 0]
    return list(labels), major


def time_series(
    caption: str,
    points: Sequence[tuple[str, int | float]],
    *,
    value_label: str,
    time_label: str,
    table_label: str,
    series_name: str = "",
) -> Markup:
    """A line chart of one series over time (labels already formatted), with its table."""
    labels, major = _x_labels([label for label, _ in points])
    # Only the major labels are drawn, so they need not be cut to fit every point's width.
    chart = pygal.Line(**_config(x_labels_major=major, fill=True, dots_size=2, truncate_label=-1))
    chart.x_labels = labels
    chart.add(series_name or value_label, [value for _, value in points])
    if not points:
        chart.no_data_text = "–"
    return _figure(
        caption,
        chart.render(is_unicode=True),
        (time_label, value_label),
        [(label, value) for label, value in points],
        table_label,
    )


def bars(
    caption: str,
    items: Sequence[tuple[str, int | float]],
    *,
    value_label: str,
    name_label: str,
    table_label: str,
) -> Markup:
    """A horizontal bar chart of named figures (for example sign-ups per site), with its table."""
    chart = pygal.HorizontalBar(**_config(height=max(120, 40 + 28 * len(items)), print_values=True))
    chart.x_labels = [name for name, _ in items]
    chart.add(value_label, [value for _, value in items])
    if not items:
        chart.no_data_text = "–"
    return _figure(
        caption,
        chart.render(is_unicode=True),
        (name_label, value_label),
        [(name, value) for name, value in items],
        table_label,
    )


def stacked_bars(
    caption: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int | None]]],
    *,
    name_label: str,
    table_label: str,
    missing_text: str,
) -> Markup:
    """Bars of several series stacked per label (for example sign-ups per month by region),
    with a legend and their table; a None value is left out of the bar and written
    ``missing_text`` in the table."""
    chart = pygal.StackedBar(**_config(show_legend=True, legend_at_bottom=True, height=300))
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    if not labels:
        chart.no_data_text = "–"
    rows = [
        (label, *(missing_text if values[index] is None else values[index] for _, values in series))
        for index, label in enumerate(labels)
    ]
    return _figure(
        caption,
        chart.render(is_unicode=True),
        (name_label, *(name for name, _ in series)),
        rows,
        table_label,
    )
