"""What the query modules share: the dialect's INSERT … ON CONFLICT."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def insert_ignoring(conn: AsyncConnection, table: sa.Table) -> Any:
    """An INSERT that can take ON CONFLICT DO NOTHING (dialect-specific in SQLAlchemy Core)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
