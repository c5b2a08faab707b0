"""Migrations bring an empty database to head, agree with the models, and go back down."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot import db, migrate
from models import Base
from tests.conftest import run_in_thread

REPO = Path(__file__).resolve().parents[2]


def _inspect_database(url: str) -> tuple[set[str], list[Any], str | None]:
    def look(connection: Connection) -> tuple[set[str], list[Any], str | None]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
        return set(inspect(connection).get_table_names()), diff, context.get_current_revision()

    async def run() -> tuple[set[str], list[Any], str | None]:
        engine = db.create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(look)
        finally:
            await engine.dispose()

    return run_in_thread(lambda: asyncio.run(run()))


def test_upgrade_from_empty_matches_models_and_downgrades(empty_database_url: str) -> None:
    run_in_thread(lambda: migrate.upgrade(empty_database_url))
    tables, diff, revision = _inspect_database(empty_database_url)
    assert tables == {table.name for table in Base.metadata.sorted_tables} | {"alembic_version"}
    assert diff == [], f"models and migrations disagree: {diff}"
    assert revision == migrate.head_revision()

    run_in_thread(lambda: migrate.upgrade(empty_database_url))  # idempotent
    run_in_thread(lambda: command.downgrade(migrate.alembic_config(empty_database_url), "base"))
    tables, _, revision = _inspect_database(empty_database_url)
    assert tables == {"alembic_version"}
    assert revision is None


def test_plain_alembic_upgrade_head_uses_database_url(empty_database_url: str) -> None:
    environment = {**os.environ, "DATABASE_URL": empty_database_url}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO,
        env=environment,
        check=True,
        capture_output=True,
    )
    tables, diff, revision = _inspect_database(empty_database_url)
    assert "share" in tables
    assert diff == []
    assert revision == migrate.head_revision()


def test_revision_files_are_named_rev_slug() -> None:
    for path in (REPO / "migrations" / "versions").glob("*.py"):
        revision = path.name.split("_", 1)[0]
        assert f'revision: str = "{revision}"' in path.read_text(), path.name
