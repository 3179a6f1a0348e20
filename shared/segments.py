"""Rule-based segments: the rule model, its validation and its compilation to one SQL condition.

A contract between services: the campaigns service validates and stores rules (table
``segments``) and counts their members; the mailer compiles the same rules when it fans a
campaign out. A segment is a ``Group`` of ``Condition``s and nested groups, matched with
``all`` (AND), ``any`` (OR) or ``none`` (NOT OR). Rules are JSON::

    {"type": "group", "match": "all", "rules": [
        {"type": "condition", "field": "country", "op": "any_of", "value": ["SE"]},
        {"type": "group", "match": "any", "rules": [...]}]}

``compile_group`` turns a group into a SQLAlchemy boolean expression correlated on
``subscribers``; values are bound parameters, never text spliced into SQL. Every compiled
condition is TRUE or FALSE, never NULL, so ``none`` (NOT) means "does not match" also for
subscribers without the value. Whoever is a member, only ``eligible()`` subscribers are ever
counted or mailed: active, confirmed on at least one list and never bounced.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa

from shared.custom_fields import CHOICE_MAX, NUMBER_LIMIT, TEXT_MAX
from shared.languages import LANGUAGES
from shared.municipalities import MUNICIPALITIES, find_municipality
from shared.schema import (
    campaign_runs,
    deliveries,
    link_clicks,
    mailing_lists,
    member_sites,
    subscribers,
    subscriptions,
)
from shared.statuses import DeliveryStatus, SubscriberStatus, SubscriptionStatus

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


def decode_rules(raw: bytes | str) -> Group:
    """Stored rules (JSON) as a Group; raise InvalidRules when they are not in the format."""
    try:
        return msgspec.json.decode(raw, type=Group)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidRules({"rules": str(exc)}) from exc


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


# --- compilation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a compiled segment depends on besides the rules.

    ``now`` anchors "in the last N days"; ``exclude_campaign`` leaves the campaign being sent
    out of "the last N campaigns" (its own run has started, but nobody has clicked in it yet).
    """

    now: datetime
    exclude_campaign: int | None = None


def compile_group(group: Group, context: Context) -> sa.ColumnElement[bool]:
    """The group as one boolean SQL expression over (correlated on) ``subscribers``."""
    parts = [
        compile_group(rule, context) if isinstance(rule, Group) else _compile(rule, context)
        for rule in group.rules
    ]
    if group.match == "all":
        return sa.and_(sa.true(), *parts)
    either = sa.or_(sa.false(), *parts)
    return either if group.match == "any" else sa.not_(either)


def eligible() -> sa.ColumnElement[bool]:
    """Whom any audience may hold: active, confirmed on some list, never bounced."""
    return sa.and_(
        subscribers.c.status == SubscriberStatus.ACTIVE, _confirmed_on(None), ~hard_bounced()
    )


def hard_bounced() -> sa.Exists:
    """The address bounced hard (or drew a complaint) in some campaign, as the mailer suppresses.

    Refused at RCPT as an unknown address (5.1.x) counts as a bounce.
    """
    earlier = deliveries.alias("bounced_delivery")
    return (
        sa.exists()
        .where(earlier.c.subscriber_id == subscribers.c.id)
        .where(
            sa.or_(
                earlier.c.status == DeliveryStatus.BOUNCED,
                sa.and_(
                    earlier.c.status == DeliveryStatus.FAILED,
                    earlier.c.last_response.like("5.1.%"),
                ),
            )
        )
    )


def _confirmed_on(
    slugs: Sequence[str] | None, since: datetime | None = None, before: datetime | None = None
) -> sa.Exists:
    found = (
        sa.exists()
        .where(subscriptions.c.subscriber_id == subscribers.c.id)
        .where(subscriptions.c.status == SubscriptionStatus.CONFIRMED)
    )
    if slugs is not None:
        lists = sa.select(mailing_lists.c.id).where(mailing_lists.c.slug.in_(slugs))
        found = found.where(subscriptions.c.list_id.in_(lists.scalar_subquery()))
    if since is not None:
        found = found.where(subscriptions.c.confirmed_at >= since)
    if before is not None:
        found = found.where(subscriptions.c.confirmed_at < before)
    return found


def _known(column: sa.ColumnElement[Any], test: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    # NULL-safe: a missing value fails the test instead of making it unknown, so NOT works.
    return sa.and_(column.is_not(None), test)


def _set_test(column: sa.ColumnElement[Any], op: str, values: Sequence[Any]) -> Any:
    matches = _known(column, column.in_(values))
    return matches if op == "any_of" else ~matches


def _presence(column: sa.ColumnElement[Any], op: str) -> sa.ColumnElement[bool]:
    return column.is_not(None) if op == "is_set" else column.is_(None)


def _day_start(value: str) -> datetime:
    return datetime.combine(date.fromisoformat(value), time(), ZONE).astimezone(UTC)


def _dates(op: str, value: Any, context: Context) -> tuple[datetime | None, datetime | None]:
    """(since, before) bounds for a date operator."""
    if op == "before":
        return None, _day_start(value)
    if op == "on_or_after":
        return _day_start(value), None
    return context.now - timedelta(days=int(value)), None


def _compile(rule: Condition, context: Context) -> sa.ColumnElement[bool]:
    if rule.field.startswith(CUSTOM_PREFIX):
        return _compile_custom(rule.field.removeprefix(CUSTOM_PREFIX), rule.op, rule.value)
    compiler = _COMPILERS.get(rule.field)
    if compiler is None:
        # Stored rules are validated; a field this version does not know matches nobody.
        return sa.false()
    return compiler(rule.op, rule.value, context)


def _list(op: str, value: Any, _: Context) -> sa.ColumnElement[bool]:
    found = _confirmed_on(value)
    return found if op == "any_of" else ~found


def _language(op: str, value: Any, _: Context) -> sa.ColumnElement[bool]:
    return _set_test(subscribers.c.language, op, value)  # type: ignore[no-any-return]


def _municipality(op: str, value: Any, _: Context) -> sa.ColumnElement[bool]:
    if op in _PRESENCE_OPS:
        return _presence(subscribers.c.municipality, op)
    return _set_test(subscribers.c.municipality, op, value)  # type: ignore[no-any-return]


def _country(op: str, value: Any, _: Context) -> sa.ColumnElement[bool]:
    # The country is the municipality's: the test is over municipality ids, which the index on
    # subscribers.municipality serves.
    ids = [m.id for m in MUNICIPALITIES if m.country in value]
    return _set_test(subscribers.c.municipality, op, ids)  # type: ignore[no-any-return]


def _source_site(op: str, value: Any, _: Context) -> sa.ColumnElement[bool]:
    column = subscribers.c.source_site_id
    if op in _PRESENCE_OPS:
        return _presence(column, op)
    sites = sa.select(member_sites.c.id).where(member_sites.c.key.in_(value)).scalar_subquery()
    matches = _known(column, column.in_(sites))
    return matches if op == "any_of" else ~matches


def _signed_up(op: str, value: Any, context: Context) -> sa.ColumnElement[bool]:
    since, before = _dates(op, value, context)
    column = subscribers.c.created_at
    return column >= since if since is not None else column < before


def _confirmed(op: str, value: Any, context: Context) -> sa.ColumnElement[bool]:
    # Confirmed (and still confirmed) on some list within the dates.
    since, before = _dates(op, value, context)
    return _confirmed_on(None, since=since, before=before)


def _clicked(op: str, value: Any, context: Context) -> sa.ColumnElement[bool]:
    clicks = sa.exists().where(link_clicks.c.subscriber_id == subscribers.c.id)
    if op == "never":
        return ~clicks
    runs = sa.select(campaign_runs.c.campaign_id)
    if context.exclude_campaign is not None:
        runs = runs.where(campaign_runs.c.campaign_id != context.exclude_campaign)
    recent = runs.order_by(
        campaign_runs.c.started_at.desc(), campaign_runs.c.campaign_id.desc()
    ).limit(int(value))
    return clicks.where(link_clicks.c.campaign_id.in_(recent.scalar_subquery()))


def _bounced(op: str, _value: Any, _: Context) -> sa.ColumnElement[bool]:
    bounced = sa.or_(subscribers.c.status == SubscriberStatus.BOUNCED, hard_bounced())
    return bounced if op == "is_true" else ~bounced


_COMPILERS: Final[Mapping[str, Callable[[str, Any, Context], sa.ColumnElement[bool]]]] = {
    "list": _list,
    "language": _language,
    "municipality": _municipality,
    "country": _country,
    "source_site": _source_site,
    "signed_up": _signed_up,
    "confirmed": _confirmed,
    "clicked": _clicked,
    "bounced": _bounced,
}


def _compile_custom(key: str, op: str, value: Any) -> sa.ColumnElement[bool]:
    # The JSON type's accessors compile per dialect: json_extract on SQLite, ->> with a cast on
    # PostgreSQL; the key is a bound parameter too. Which accessor follows from the value's
    # type, which validation fixed by the field's type.
    element = subscribers.c.custom_values[key]
    text = element.as_string()
    if op in _PRESENCE_OPS:
        return _presence(text, op)
    if op in ("is_true", "is_false"):
        ticked = _known(element.as_boolean(), element.as_boolean() == sa.true())
        return ticked if op == "is_true" else ~ticked
    if op in _SET_OPS:
        return _set_test(text, op, value)  # type: ignore[no-any-return]
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = element.as_float()
        tests = {
            "equals": number == value,
            "not_equals": number == value,
            "less_than": number < value,
            "greater_than": number > value,
        }
        matches = _known(number, tests[op])
        return ~matches if op == "not_equals" else matches
    if op == "contains":
        escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return _known(text, sa.func.lower(text).like(f"%{escaped.lower()}%", escape="\\"))
    # text equals / not_equals, date equals / before / on_or_after: ISO dates order as text
    tests = {
        "equals": text == value,
        "not_equals": text == value,
        "before": text < value,
        "on_or_after": text >= value,
    }
    matches = _known(text, tests[op])
    return ~matches if op == "not_equals" else matches
