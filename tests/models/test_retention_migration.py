"""Revision 0019: the visitor keys written before it came from a permanent secret of the install, so those
of past hours are cleared; each workspace's retention starts clearing the rest from the upgrade's hour;
every click row stands for one click."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from bot import db, migrate
from tests.conftest import run_in_thread

# Times are written into the statements: asyncpg takes no text parameter for a timestamp.
SEED = [
    "INSERT INTO workspace (platform, external_id, timezone, settings, created_at, updated_at) "
    "VALUES ('slack', 'T1', 'UTC', '{}', '2026-11-25 09:00:00', '2026-11-25 09:00:00')",
    "INSERT INTO member (workspace_id, external_id, is_admin, opted_out, nudges_unanswered, active, "
    "created_at, updated_at) VALUES (1, 'U1', FALSE, FALSE, 0, TRUE, '2026-11-25 09:00:00', "
    "'2026-11-25 09:00:00')",
    "INSERT INTO post (workspace_id, url, captions, networks, channels, state, created_at, updated_at) "
    "VALUES (1, 'https://acme.example/', '[]', '[\"x\"]', '[]', 'published', '2026-11-25 09:00:00', "
    "'2026-11-25 09:00:00')",
    "INSERT INTO tracked_link (workspace_id, code, post_id, member_id, network, created_at) "
    "VALUES (1, 'code1', 1, 1, 'x', '2026-11-25 09:00:00')",
    # A past hour's click, one of an hour still to come (as the upgrade's own hour), one from before 0006.
    "INSERT INTO click (workspace_id, link_id, at, hour, counted, visitor) "
    "VALUES (1, 1, '2020-01-01 10:05:00', '2020-01-01 10:00:00', TRUE, 'past-key')",
    "INSERT INTO click (workspace_id, link_id, at, hour, counted, visitor) "
    "VALUES (1, 1, '2100-01-01 10:05:00', '2100-01-01 10:00:00', TRUE, 'current-key')",
    "INSERT INTO click (workspace_id, link_id, at, hour, counted, visitor) "
    "VALUES (1, 1, '2020-01-01 11:00:00', NULL, TRUE, 'before-0006-key')",
]


def _run(url: str, statements: list[str], query: str) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        engine = db.create_engine(url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
            async with engine.connect() as connection:
                return [tuple(row) for row in await connection.execute(text(query))]
        finally:
            await engine.dispose()

    return run_in_thread(lambda: asyncio.run(run()))


def test_past_hours_visitor_keys_are_cleared_and_the_retention_clears_the_rest(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    run_in_thread(lambda: migrate.upgrade(url, "0018"))
    assert _run(url, SEED, "SELECT visitor FROM click ORDER BY id") == [
        ("past-key",),
        ("current-key",),
        ("before-0006-key",),
    ]

    run_in_thread(lambda: migrate.upgrade(url))
    assert _run(url, [], "SELECT visitor, clicks FROM click ORDER BY id") == [
        (None, 1),
        ("current-key", 1),
        (None, 1),
    ]
    ((workspace, cleared_before, deleted_before),) = _run(
        url, [], "SELECT workspace_id, cleared_before, deleted_before FROM retention_horizon"
    )
    assert (workspace, deleted_before) == (1, None)
    assert cleared_before is not None  # the upgrade's hour: the retention job clears from there on

    run_in_thread(lambda: command.downgrade(migrate.alembic_config(url), "0018"))
    assert _run(url, [], "SELECT visitor FROM click ORDER BY id") == [(None,), ("current-key",), (None,)]


def test_a_downgrade_refuses_to_turn_folded_weekly_rows_into_single_clicks(empty_database_url: str) -> None:
    url = empty_database_url
    run_in_thread(lambda: migrate.upgrade(url, "0018"))
    _run(url, SEED, "SELECT 1")
    run_in_thread(lambda: migrate.upgrade(url, "0019"))
    # A week of 22 clicks folded by the retention job into one row.
    _run(url, ["UPDATE click SET clicks = 22, visitor = NULL, hour = NULL WHERE id = 1"], "SELECT 1")

    with pytest.raises(RuntimeError, match=r"Cannot downgrade below revision 0019: 1 click rows are weekly"):
        run_in_thread(lambda: command.downgrade(migrate.alembic_config(url), "0018"))
    assert _run(url, [], "SELECT id, clicks FROM click ORDER BY id") == [(1, 22), (2, 1), (3, 1)]
    assert _run(url, [], "SELECT version_num FROM alembic_version") == [("0019",)]
