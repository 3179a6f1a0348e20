"""The migration history builds exactly the schema in shared/schema.py, on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from shared.db import create_engine
from shared.migrate import alembic_config, upgrade
from shared.schema import metadata


def _state(database_url: str) -> tuple[list[str], list[Any]]:
    async def read() -> tuple[list[str], list[Any]]:
        engine = create_engine(database_url)
        async with engine.connect() as conn:

            def inspect(sync_conn: sa.Connection) -> tuple[list[str], list[Any]]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return list(context.get_current_heads()), compare_metadata(context, metadata)

            result = await conn.run_sync(inspect)
        await engine.dispose()
        return result

    return asyncio.run(read())


def test_single_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://")).get_heads()
    assert len(heads) == 1, heads


def test_upgrade_records_head_and_matches_schema(database_url: str) -> None:
    # database_url is already migrated by the fixture; running again must be a no-op.
    upgrade(database_url)
    heads, differences = _state(database_url)
    expected = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    assert heads == expected
    assert differences == []
