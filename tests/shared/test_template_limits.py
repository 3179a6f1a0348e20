"""Cost limits of the staff template sandbox: hostile templates end fast with a reason."""

from __future__ import annotations

import time

import pytest

from shared.campaign_templates import (
    CampaignTemplateError,
    compile_template,
    render_template,
    sample_context,
)
from shared.template_limits import TIME_LIMIT

HOSTILE: list[tuple[str, str, str]] = [
    ("power", "{{ (9 ** (9 ** 8)) > 0 }}", "power too large"),
    ("repeat", "{{ 'a' * 10**9 }}", "repetition"),
    (
        "product",
        "{% set ns = namespace(n=3) %}{% for i in range(99) %}"
        "{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "product too large",
    ),
    (
        "nested loops",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "work",
    ),
    (
        "recursive macro",
        "{% macro f(n) %}{% if n > 0 %}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(1) }}",
        "nested deeper",
    ),
    (
        "recursive loop",
        "{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}",
        "nested deeper",
    ),
    (
        "branching macro",
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
        "{% endmacro %}{{ f(35) }}",
        "exceeds a limit",
    ),
    (
        "doubling macro",
        "{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% endif %}"
        "{% endmacro %}{{ f('a', 40) }}",
        "longer than",
    ),
    (
        "doubling namespace",
        "{% set ns = namespace(s='a') %}{% for i in range(60) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "longer than",
    ),
    ("wide filter", "{{ 'x'|center(10**9) }}", "larger than"),
    ("indent", "{{ ('\\n' * 100000)|indent(1000) }}", "indented"),
    ("join filter", "{{ range(100000)|map('string')|join('x' * 100000) }}", "exceeds a limit"),
    ("join method", "{{ ('x' * 100000).join(range(100000)|map('string')) }}", "exceeds a limit"),
    ("format method", "{{ '{:>999999999}'.format(1) }}", "format width"),
    ("percent format", "{{ '%0999999999d' % 1 }}", "format width"),
    ("format filter", "{{ '%0999999999d'|format(1) }}", "format width"),
    (
        "replace",
        "{{ ('a' * 1000)|replace('a', 'a' * 1000)|replace('a', 'a' * 1000) }}",
        "replacement",
    ),
    ("tilde chain", "{% set s = 'a' * 1000000 %}{{ s ~ s ~ s ~ s ~ s }}", "concatenation"),
    (
        "captured block",
        "{% set s = 'a' * 1000000 %}{% set x %}{% for i in range(100000) %}{{ s }}"
        "{% endfor %}{% endset %}{{ x|length }}",
        "exceeds a limit",
    ),
    (
        "macro body",
        "{% set s = 'a' * 1000000 %}{% macro m() %}{{ s }}{{ s }}{% endmacro %}{{ m()|length }}",
        "block renders to more",
    ),
    ("output", "{% for i in range(100000) %}{{ 'a' * 100000 }}{% endfor %}", "renders to more"),
]


@pytest.mark.parametrize(
    ("source", "reason"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
@pytest.mark.timing
def test_hostile_template_fails_fast_with_a_reason(source: str, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(CampaignTemplateError) as caught:
        render_template(compile_template(source, field="body"), sample_context(), field="body")
    assert reason in caught.value.message
    # The time limit plus a margin for a loaded machine; unbounded, these take minutes.
    assert time.monotonic() - started < TIME_LIMIT + 1.5


def test_deeply_nested_expression_is_a_template_error() -> None:
    with pytest.raises(CampaignTemplateError, match="nested too deeply|syntax|recursion"):
        compile_template("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", field="body")


def test_ordinary_template_still_renders() -> None:
    source = (
        "Hej {{ subscriber.name }}! {% for i in range(3) %}{{ i }}{% endfor %} "
        "{{ '%05d' % 7 }} {{ 'a,b'.split(',')|join('-') }} {{ '{:>4}'.format(1) }} "
        "{% set ns = namespace(n=0) %}{% for i in range(10) %}{% set ns.n = ns.n + i %}"
        "{% endfor %}{{ ns.n }} {{ 2 ** 10 }} {{ ['x'] * 3 }}"
        "{% for x in [[1, [2]]] recursive %}{% if x is iterable %}{{ loop(x) }}"
        "{% else %}{{ x }}{% endif %}{% endfor %}"
        " {{ 'a' ~ 1 ~ subscriber.name }}{% set x %}blk{% endset %}{{ x }}"
    )
    rendered = render_template(
        compile_template(source, field="body", html=False), sample_context(), field="body"
    )
    assert rendered == "Hej Maja! 012 00007 a-b    1 45 1024 ['x', 'x', 'x']12 a1Majablk"


@pytest.mark.timing
def test_rendering_costs_microseconds() -> None:
    """The limits sit on the mailer's per-recipient path: they must stay cheap."""
    template = compile_template(
        "<p>Hej {{ subscriber.name }}</p>{% for i in range(20) %}<li>{{ i }}</li>{% endfor %}"
        "<a href='{{ unsubscribe_url }}'>x</a>",
        field="body",
    )
    context = sample_context()
    render_template(template, context, field="body")
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        render_template(template, context, field="body")
    per_render = (time.perf_counter() - started) / rounds
    assert per_render < 0.001, per_render
