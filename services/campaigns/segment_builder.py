"""The staff app's segment builder: rule rows in a plain form, to and from shared.segments rules.

A row is one condition: the group it belongs to (0 for the segment's own group, 1-3 for a
nested group), a field, an operator and the value as typed. Values that are sets are typed
comma-separated. The form works without JavaScript: adding a row and counting are submits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from services.campaigns.errors import N_
from services.campaigns.staff_forms import FormData, text
from shared.segments import CUSTOM_PREFIX, Condition, Group, Match

GROUPS: Final = 3  # nested groups the builder offers beside the segment's own
ROWS_MAX: Final = 30
BLANK_ROWS: Final = 2
MATCHES: Final[tuple[Match, ...]] = ("all", "any", "none")
_NUMBER: Final = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_SET_OPS: Final = frozenset({"any_of", "none_of"})
_NO_VALUE: Final = frozenset({"is_set", "is_not_set", "never", "is_true", "is_false"})

# Built-in fields and every operator, with the words the page shows (translated there).
FIELDS: Final[Mapping[str, str]] = {
    "list": N_("Confirmed on list"),
    "language": N_("Language"),
    "municipality": N_("Municipality"),
    "country": N_("Country"),
    "source_site": N_("Signed up through member site"),
    "signed_up": N_("Signed up"),
    "confirmed": N_("Confirmed a subscription"),
    "clicked": N_("Clicked"),
    "bounced": N_("Address bounced"),
}
OPERATORS: Final[Mapping[str, str]] = {
    "any_of": N_("is one of"),
    "none_of": N_("is none of"),
    "equals": N_("equals"),
    "not_equals": N_("does not equal"),
    "contains": N_("contains"),
    "less_than": N_("is less than"),
    "greater_than": N_("is greater than"),
    "before": N_("before the date"),
    "on_or_after": N_("on or after the date"),
    "in_last_days": N_("in the last N days"),
    "in_last_campaigns": N_("in any of the last N campaigns"),
    "never": N_("never"),
    "is_set": N_("is filled in"),
    "is_not_set": N_("is empty"),
    "is_true": N_("is yes"),
    "is_false": N_("is no"),
}


@dataclass(frozen=True)
class Row:
    """One condition as the form shows it."""

    group: int = 0
    field: str = ""
    op: str = ""
    value: str = ""


@dataclass
class Builder:
    """The whole form: name, how the segment's own group matches, nested groups' matches, rows.

    ``paths`` maps each row (by index) to its place in the rules, so problems the validation
    reports by path (``rules.2.rules.0.value``) are shown beside the row.
    """

    name: str = ""
    match: Match = "all"
    group_matches: dict[int, Match] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    too_deep: bool = False

    def with_blank_rows(self, count: int = BLANK_ROWS) -> Builder:
        """The builder with ``count`` more empty rows (up to ROWS_MAX in all)."""
        room = max(0, min(count, ROWS_MAX - len(self.rows)))
        self.rows = [*self.rows, *[Row() for _ in range(room)]]
        return self

    def rules(self, custom_types: Mapping[str, str]) -> tuple[Group, dict[int, str]]:
        """The rules the rows make, and the path of each row that made a condition."""
        top: list[Condition | Group] = []
        paths: dict[int, str] = {}
        for index, row in enumerate(self.rows):
            if row.group == 0 and row.field:
                paths[index] = f"rules.{len(top)}"
                top.append(_condition(row, custom_types))
        for number in range(1, GROUPS + 1):
            members = [(i, row) for i, row in enumerate(self.rows) if row.group == number]
            members = [(i, row) for i, row in members if row.field]
            if not members:
                continue
            at = f"rules.{len(top)}.rules"
            for position, (index, _row) in enumerate(members):
                paths[index] = f"{at}.{position}"
            match = self.group_matches.get(number, "any")
            top.append(Group(match=match, rules=[_condition(r, custom_types) for _, r in members]))
        return Group(match=self.match, rules=top), paths


def from_form(form: FormData) -> Builder:
    """The builder as posted."""
    rows: list[Row] = []
    for index in range(ROWS_MAX):
        prefix = f"row-{index}-"
        if f"{prefix}field" not in form:
            continue
        group = text(form, f"{prefix}group")
        rows.append(
            Row(
                group=int(group) if group.isdigit() and int(group) <= GROUPS else 0,
                field=text(form, f"{prefix}field").strip(),
                op=text(form, f"{prefix}op").strip(),
                value=text(form, f"{prefix}value"),
            )
        )
    return Builder(
        name=text(form, "name"),
        match=_match(text(form, "match"), "all"),
        group_matches={n: _match(text(form, f"group-{n}-match"), "any") for n in range(1, 4)},
        rows=rows,
    )


def from_rules(name: str, rules: Group) -> Builder:
    """The builder showing saved rules (nesting deeper than one level cannot be shown)."""
    builder = Builder(name=name, match=rules.match)
    number = 0
    for rule in rules.rules:
        if isinstance(rule, Condition):
            builder.rows.append(_row(0, rule))
            continue
        number += 1
        if number > GROUPS or any(isinstance(inner, Group) for inner in rule.rules):
            builder.too_deep = True
            continue
        builder.group_matches[number] = rule.match
        builder.rows.extend(
            _row(number, inner) for inner in rule.rules if isinstance(inner, Condition)
        )
    return builder


def row_problems(problems: Mapping[str, str], paths: Mapping[int, str]) -> dict[int, str]:
    """Validation problems by row index (a row's problems are those under its path)."""
    found: dict[int, str] = {}
    for index, path in paths.items():
        mine = [reason for where, reason in problems.items() if where.startswith(path + ".")]
        if mine:
            found[index] = "; ".join(mine)
    return found


def _match(value: str, default: Match) -> Match:
    return next((match for match in MATCHES if match == value), default)


def _row(group: int, rule: Condition) -> Row:
    value = rule.value
    shown = ", ".join(str(item) for item in value) if isinstance(value, list) else value
    return Row(group=group, field=rule.field, op=rule.op, value="" if shown is None else str(shown))


def _condition(row: Row, custom_types: Mapping[str, str]) -> Condition:
    return Condition(field=row.field, op=row.op, value=_value(row, custom_types))


def _value(row: Row, custom_types: Mapping[str, str]) -> Any:
    raw = row.value.strip()
    if row.op in _NO_VALUE:
        return None
    if row.op in _SET_OPS:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if row.op in ("in_last_days", "in_last_campaigns"):
        return int(raw) if raw.isdigit() and len(raw) < 10 else raw
    kind = custom_types.get(row.field.removeprefix(CUSTOM_PREFIX))
    if kind == "number" and _NUMBER.fullmatch(raw):
        # Danish and Swedish write a decimal comma.
        number = raw.replace(",", ".")
        return float(number) if "." in number else int(number)
    return raw
