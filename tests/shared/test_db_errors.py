"""Which database errors mean "away for a moment" (503) and which mean "a bug" (500)."""

from __future__ import annotations

from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
)

from shared.db import database_unreachable


def test_a_database_going_away_is_unreachable_and_a_bad_statement_is_not() -> None:
    # asyncpg's "shutting down" and "closed in the middle of operation" come as bare DBAPIError
    # (and its client-state errors as InternalError), seen while PostgreSQL restarted.
    away = [
        DBAPIError("SELECT 1", {}, Exception("the database system is shutting down")),
        InternalError("SELECT 1", {}, Exception("cannot switch to state 15")),
        OperationalError("SELECT 1", {}, Exception("connection refused")),
        InterfaceError("SELECT 1", {}, Exception("connection is closed")),
    ]
    bugs = [
        ProgrammingError("SELEC 1", {}, Exception("syntax error")),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        ValueError("not a database error"),
    ]
    assert [database_unreachable(exc) for exc in away] == [True] * len(away)
    assert [database_unreachable(exc) for exc in bugs] == [False] * len(bugs)
