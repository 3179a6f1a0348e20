"""What the query modules share: the dialect's INSERT … ON CONFLICT."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import conflict_insert


def insert_ignoring(conn: AsyncConnection, table: sa.Table) -> Any:
    """An INSERT that can take ON CONFLICT DO NOTHING (dialect-specific in SQLAlchemy Core)."""
    return conflict_insert(conn.dialect.name, table)
