"""Revision 0009: a workspace's platform is any adapter's name (platforms are plugins), and going back
down refuses, with a clear message, to drop workspaces the old schema cannot hold."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot import db, migrate
from tests.conftest import run_in_thread

WORKSPACE = (
    "INSERT INTO workspace (platform, external_id, timezone, settings, created_at, updated_at) "
    "VALUES (:platform, :external_id, 'UTC', '{}', '2026-11-25 09:00:00', '2026-11-25 09:00:00')"
)


def _run(url: str, *statements: tuple[str, dict[str, str]]) -> list[tuple[str, str]]:
    """Run `statements` in one transaction, then return the workspaces (platform, external id)."""

    async def run() -> list[tuple[str, str]]:
        engine = db.create_engine(url)
        try:
            async with engine.begin() as connection:
                for statement, params in statements:
                    await connection.execute(text(statement), params)
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT platform, external_id FROM workspace ORDER BY id")
                )
                return [(str(platform), str(external_id)) for platform, external_id in rows]
        finally:
            await engine.dispose()

    return run_in_thread(lambda: asyncio.run(run()))


def _downgrade(url: str, revision: str) -> None:
    run_in_thread(lambda: command.downgrade(migrate.alembic_config(url), revision))


def test_any_platform_name_after_0009_and_back_down_once_only_known_ones_remain(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    run_in_thread(lambda: migrate.upgrade(url, "0008"))
    assert _run(url, (WORKSPACE, {"platform": "slack", "external_id": "T1"})) == [("slack", "T1")]
    with pytest.raises(IntegrityError):  # before: only Slack and Teams
        _run(url, (WORKSPACE, {"platform": "text", "external_id": "W1"}))

    run_in_thread(lambda: migrate.upgrade(url))
    assert _run(url, (WORKSPACE, {"platform": "text", "external_id": "W1"})) == [
        ("slack", "T1"),
        ("text", "W1"),
    ]

    with pytest.raises(RuntimeError, match="1 workspace\\(s\\) are on a platform other than Slack or Teams"):
        _downgrade(url, "0008")
    assert _run(url) == [("slack", "T1"), ("text", "W1")]  # nothing lost

    assert _run(url, ("DELETE FROM workspace WHERE platform = :platform", {"platform": "text"})) == [
        ("slack", "T1")
    ]
    _downgrade(url, "0008")
    assert _run(url) == [("slack", "T1")]
    with pytest.raises(IntegrityError):  # the CHECK is back
        _run(url, (WORKSPACE, {"platform": "text", "external_id": "W2"}))
