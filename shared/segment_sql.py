"""Segment rules compiled to SQL: one boolean expression over ``subscribers`` per group.

``compile_group`` turns rules (shared.segments) into a SQLAlchemy expression correlated on
``subscribers``; values are bound parameters, never text spliced into SQL. Every compiled
condition is TRUE or FALSE, never NULL, so ``none`` (NOT) means "does not match" also for
subscribers without the value. Whoever matches, only ``eligible()`` subscribers are ever
counted or mailed: active, confirmed on at least one list and never bounced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import sqlalchemy as sa

from shared.municipalities import MUNICIPALITIES
from shared.schema import (
    campaign_runs,
    deliveries,
    link_clicks,
    mailing_lists,
    member_sites,
    subscribers,
    subscriptions,
)
from shared.segments import CUSTOM_PREFIX, ZONE, Condition, Group
from shared.statuses import DeliveryStatus, SubscriberStatus, SubscriptionStatus

# A compiled segment's best plan depends on its values (which list, which prefix, which key):
# PostgreSQL's generic plan of a prepared statement, which it may choose from the sixth run of
# the same statement on a connection, took 40-48 s for a segment its own plan counts in 0.6 s
# (bench/segments.py). For the transaction that runs a compiled segment, on PostgreSQL.
CUSTOM_PLANS: Final = sa.text("SET LOCAL plan_cache_mode = force_custom_plan")

_SET_OPS: Final = ("any_of", "none_of")
_PRESENCE_OPS: Final = ("is_set", "is_not_set")


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
    """Whom any audience may hold: active, confirmed on some list, never bounced.

    "Confirmed on some list" is the count the subscriptions service keeps on the subscriber
    with every confirmation and withdrawal, not a pass over every subscription; the first two
    tests are the predicate of the partial index ``ix_subscribers_eligible``.
    """
    return sa.and_(
        subscribers.c.status == SubscriberStatus.ACTIVE,
        subscribers.c.confirmed_lists > 0,
        ~hard_bounced(),
    )


def members(group: Group, context: Context) -> sa.ColumnElement[bool]:
    """Eligible subscribers who match ``group``: whom a segment counts."""
    return sa.and_(eligible(), compile_group(group, context))


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
    # The country is the municipality's, and every municipality id starts with its country
    # ("dk-", "se-"; shared.municipalities): one short prefix test per row rather than a list
    # of a hundred ids, which the planner also estimates from the column's statistics.
    # IS TRUE keeps it never NULL while the planner still estimates the LIKE from the column's
    # statistics (IS NOT NULL would offer it an index scan of everyone with a municipality).
    column = subscribers.c.municipality
    prefixes = sorted({f"{m.country.lower()}-" for m in MUNICIPALITIES if m.country in value})
    matches = sa.or_(*(column.like(f"{prefix}%") for prefix in prefixes)).is_(sa.true())
    return matches if op == "any_of" else ~matches


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
