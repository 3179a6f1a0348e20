"""Rule-based segments: the rule model and its validation (SQL: shared.segment_sql).

A contract between services: the campaigns service validates and stores rules (table
``segments``) and counts their members; the mailer compiles the same rules when it fans a
campaign out. A segment is a ``Group`` of ``Condition``s and nested groups, matched with
``all`` (AND), ``any`` (OR) or ``none`` (NOT OR). Rules are JSON::

    {"type": "group", "match": "all", "rules": [
        {"type": "condition", "field": "country", "op": "any_of", "value": ["SE"]},
        {"type": "group", "match": "any", "rules": [...]}]}

``validated`` checks rules against what exists (lists, sites, custom fields) and puts values in
their stored form; shared.segment_sql compiles them to SQL.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec

from shared.custom_fields import CHOICE_MAX, NUMBER_LIMIT, TEXT_MAX
from shared.languages import LANGUAGES
from shared.municipalities import find_municipality

Match = Literal["all", "any", "none"]

MAX_DEPTH: Final = 3  # the top group and two levels of nested groups
MAX_CONDITIONS: Final = 50
MAX_VALUES: Final = 200  # items in one any_of / none_of
MAX_DAYS: Final = 36_500
MAX_CAMPAIGNS: Final = 100
# Calendar dates in rules are days in Denmark and Skåne (Copenhagen and Stockholm share rules).
ZONE: Final = ZoneInfo("Europe/Copenhagen")
COUNTRIES: Final = ("DK", "SE")
CUSTOM_PREFIX: Final = "custom."


class Condition(msgspec.Struct, frozen=True, kw_only=True, tag="condition", tag_field="type"):
    """One test of a subscriber: ``field`` compared by ``op`` with ``value``."""

    field: str
    op: str
    value: Any = None


class Group(msgspec.Struct, frozen=True, kw_only=True, tag="group", tag_field="type"):
    """Conditions and nested groups: all must match, any may, or none may."""

    match: Match = "all"
    rules: list[Condition | Group] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class Catalog:
    """What rules may name: list slugs, member site keys and custom field definitions by key."""

    lists: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class InvalidRules(ValueError):
    """Rules that cannot be used; ``problems`` maps each rule's path to the reason."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in self.problems.items()))


def from_builtins(value: object) -> Group:
    """Rules already parsed from JSON (a dict) as a Group; InvalidRules when not in the format."""
    try:
        return msgspec.convert(value, type=Group)
    except msgspec.ValidationError as exc:
        raise InvalidRules({"rules": str(exc)}) from exc


def to_builtins(group: Group) -> dict[str, Any]:
    """The group as JSON-ready builtins (for the ``segments.rules`` column)."""
    result: dict[str, Any] = msgspec.to_builtins(group)
    return result


# --- validation -----------------------------------------------------------------------------

# The operators of each built-in field; custom fields' depend on their type (_CUSTOM_OPS).
_SET_OPS: Final = ("any_of", "none_of")
_PRESENCE_OPS: Final = ("is_set", "is_not_set")
_DATE_OPS: Final = ("before", "on_or_after", "in_last_days")
FIELD_OPS: Final[Mapping[str, tuple[str, ...]]] = {
    "list": _SET_OPS,
    "language": _SET_OPS,
    "municipality": _SET_OPS + _PRESENCE_OPS,
    "country": _SET_OPS,
    "source_site": _SET_OPS + _PRESENCE_OPS,
    "signed_up": _DATE_OPS,
    "confirmed": _DATE_OPS,
    "clicked": ("in_last_campaigns", "never"),
    "bounced": ("is_true", "is_false"),
}
_CUSTOM_OPS: Final[Mapping[str, tuple[str, ...]]] = {
    "text": ("equals", "not_equals", "contains", *_PRESENCE_OPS),
    "choice": _SET_OPS + _PRESENCE_OPS,
    "number": ("equals", "not_equals", "less_than", "greater_than", *_PRESENCE_OPS),
    "boolean": ("is_true", "is_false"),
    "date": ("before", "on_or_after", "equals", *_PRESENCE_OPS),
}
_NO_VALUE: Final = frozenset({"is_set", "is_not_set", "never", "is_true", "is_false"})


def operators(field_name: str, catalog: Catalog) -> tuple[str, ...]:
    """The operators a field takes; empty for an unknown field."""
    if field_name.startswith(CUSTOM_PREFIX):
        definition = catalog.fields.get(field_name.removeprefix(CUSTOM_PREFIX))
        return _CUSTOM_OPS.get(str(definition["type"]), ()) if definition else ()
    return FIELD_OPS.get(field_name, ())


def validated(group: Group, catalog: Catalog) -> Group:
    """The group with every value in its stored form; raise InvalidRules naming each problem.

    Problems are keyed by the rule's path, e.g. ``rules.1.rules.0.value``.
    """
    checker = _Checker(catalog)
    result = checker.group(group, "rules", 1)
    if checker.conditions > MAX_CONDITIONS:
        checker.problems.setdefault("rules", f"at most {MAX_CONDITIONS} conditions")
    if checker.problems:
        raise InvalidRules(checker.problems)
    return result


@dataclass
class _Checker:
    catalog: Catalog
    problems: dict[str, str] = field(default_factory=dict)
    conditions: int = 0

    def group(self, group: Group, path: str, depth: int) -> Group:
        if depth > MAX_DEPTH:
            self.problems[path] = f"groups nest at most {MAX_DEPTH} deep"
            return group
        rules: list[Condition | Group] = []
        for index, rule in enumerate(group.rules):
            where = f"{path}.{index}"
            if isinstance(rule, Group):
                rules.append(self.group(rule, f"{where}.rules", depth + 1))
            else:
                self.conditions += 1
                rules.append(_condition(rule, self.catalog, where, self.problems))
        return Group(match=group.match, rules=rules)


def _condition(rule: Condition, catalog: Catalog, path: str, problems: dict[str, str]) -> Condition:
    ops = operators(rule.field, catalog)
    if not ops:
        problems[f"{path}.field"] = f"unknown field {rule.field[:80]!r}"
        return rule
    if rule.op not in ops:
        problems[f"{path}.op"] = f"{rule.field} takes one of: " + ", ".join(ops)
        return rule
    if rule.op in _NO_VALUE:
        if rule.value is not None:
            problems[f"{path}.value"] = f"{rule.op} takes no value"
        return Condition(field=rule.field, op=rule.op)
    try:
        value = _value(rule, catalog)
    except ValueError as exc:
        problems[f"{path}.value"] = str(exc)
        return rule
    return Condition(field=rule.field, op=rule.op, value=value)


def _value(rule: Condition, catalog: Catalog) -> Any:
    name, op, raw = rule.field, rule.op, rule.value
    if name.startswith(CUSTOM_PREFIX):
        definition = catalog.fields[name.removeprefix(CUSTOM_PREFIX)]
        return _custom_value(str(definition["type"]), op, raw, list(definition["choices"] or []))
    if op in ("in_last_days", "in_last_campaigns"):
        limit = MAX_DAYS if op == "in_last_days" else MAX_CAMPAIGNS
        return _whole(raw, 1, limit)
    if op in ("before", "on_or_after"):
        return _date(raw)
    # any_of / none_of over a set of known names
    return _names(name, raw, catalog)


def _names(name: str, raw: object, catalog: Catalog) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(item, str) for item in raw):
        raise ValueError("must be a non-empty list of texts")
    if len(raw) > MAX_VALUES:
        raise ValueError(f"must name at most {MAX_VALUES}")
    items: list[str] = list(dict.fromkeys(raw))
    if name == "municipality":
        found = {item: find_municipality(item) for item in items}
        unknown = [item for item, municipality in found.items() if municipality is None]
        items = [m.id for m in found.values() if m is not None]
    elif name == "country":
        items = [item.upper() for item in items]
        unknown = [item for item in items if item not in COUNTRIES]
    else:
        known: Collection[str] = {
            "list": catalog.lists,
            "language": LANGUAGES,
            "source_site": catalog.sites,
        }[name]
        unknown = [item for item in items if item not in known]
    if unknown:
        raise ValueError("unknown: " + ", ".join(item[:64] for item in unknown[:10]))
    return list(dict.fromkeys(items))


def _custom_value(kind: str, op: str, raw: object, choices: list[str]) -> Any:
    if kind == "choice":
        if not isinstance(raw, list) or not raw or not all(isinstance(i, str) for i in raw):
            raise ValueError("must be a non-empty list of choices")
        unknown = [item for item in raw if item not in choices]
        if unknown:
            raise ValueError("not a choice: " + ", ".join(item[:CHOICE_MAX] for item in unknown))
        return list(dict.fromkeys(raw))
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError("must be a number")
        if not math.isfinite(raw) or abs(raw) >= NUMBER_LIMIT:
            raise ValueError("must be a finite number below 10^15")
        return raw
    if kind == "date":
        return _date(raw)
    # text: equals, not_equals, contains
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("must be non-empty text")
    if len(raw) > TEXT_MAX:
        raise ValueError(f"must be at most {TEXT_MAX} characters")
    return raw.strip()


def _whole(raw: object, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ValueError(f"must be a whole number from {low} to {high}")
    return raw


def _date(raw: object) -> str:
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            pass
    raise ValueError("must be a date written YYYY-MM-DD")
