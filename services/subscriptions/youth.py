"""Youth lists: who must have a guardian confirm, and what a minor may give.

A list marked as a youth list asks the year of birth. A resident under the age of digital
consent (``Settings.age_of_digital_consent``, 13 in Denmark and Sweden) needs a parent's or
guardian's address: the guardian gets the confirmation mail (``guardian.py``) and nothing is
active until they confirm. Minors give as little as possible: no IP is recorded, their mail is
never tracked, and of the custom fields only those the chosen youth lists allow are kept.

Only the year is asked, never the date: a resident counts as under the age for the whole year
in which they reach it, so nobody is taken for older than they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import queries
from services.subscriptions.errors import FieldProblem, InvalidInput
from services.subscriptions.queries import ListRow
from services.subscriptions.schemas import SignupRequest

# Older than this is no plausible year of birth for someone signing up.
MAX_AGE: Final = 120


@dataclass(frozen=True)
class YouthSignup:
    """A sign-up that names a youth list: the year of birth and whether a guardian confirms."""

    birth_year: int
    minor: bool
    guardian_email: str | None = None
    # The custom field keys a minor may give: those the chosen youth lists allow.
    allowed_fields: frozenset[str] = frozenset()


def is_under_age(birth_year: int, today: date, age: int) -> bool:
    """Whether someone born in ``birth_year`` may still be younger than ``age`` today."""
    return today.year - birth_year <= age


def first_year_of_age(today: date, age: int) -> int:
    """The latest year of birth of residents who are surely ``age`` or older today."""
    return today.year - age - 1


def assess(
    request: SignupRequest, lists: Sequence[ListRow], *, today: date, age: int
) -> YouthSignup | None:
    """What a sign-up to ``lists`` means for a young resident; None when no youth list is
    among them. Raise InvalidInput when the year of birth is missing or implausible, or when
    a resident under the age gives no guardian."""
    youth_lists = [row for row in lists if row.youth]
    if not youth_lists:
        return None
    birth_year = request.birth_year
    problems: dict[str, FieldProblem] = {}
    if birth_year is None:
        problems["birth_year"] = FieldProblem("required")
    elif not today.year - MAX_AGE <= birth_year <= today.year:
        problems["birth_year"] = FieldProblem("invalid")
    elif is_under_age(birth_year, today, age) and request.guardian_email is None:
        problems["guardian_email"] = FieldProblem("required", str(age))
    if problems or birth_year is None:
        raise InvalidInput(problems, language=request.language)
    if not is_under_age(birth_year, today, age):
        return YouthSignup(birth_year, minor=False)
    allowed = frozenset(key for row in youth_lists for key in row.youth_fields or ())
    return YouthSignup(birth_year, True, request.guardian_email, allowed)


def kept_custom_values(
    custom: dict[str, Any] | None, youth: YouthSignup | None
) -> dict[str, Any] | None:
    """The custom values a sign-up may store: for a minor only the allowed fields' ones."""
    if custom is None or youth is None or not youth.minor:
        return custom
    kept = {key: value for key, value in custom.items() if key in youth.allowed_fields}
    return kept or None


async def record(
    session: AsyncSession, subscriber_id: int, youth: YouthSignup, now: datetime
) -> None:
    """Store what a youth list asked: a minor's flag and guardian, else the year of birth."""
    if youth.minor and youth.guardian_email is not None:
        await queries.mark_minor(
            session,
            subscriber_id,
            birth_year=youth.birth_year,
            guardian_email=youth.guardian_email,
            now=now,
        )
    else:
        await queries.store_birth_year(session, subscriber_id, youth.birth_year)
