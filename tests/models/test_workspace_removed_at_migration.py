"""Revision 0023: a workspace records when its data was removed (`workspace.removed_at`, NULL for every
workspace before it); a downgrade drops the column in place, every row that refers to a workspace kept
(a copy of the workspace table, with foreign keys on, would delete them)."""

from __future__ import annotations

from alembic import command

from bot import migrate
from tests.conftest import run_in_thread
from tests.models.test_retention_migration import _run

SEED = [
    "INSERT INTO workspace (platform, external_id, timezone, settings, created_at, updated_at) "
    "VALUES ('slack', 'T1', 'UTC', '{}', '2026-11-25 09:00:00', '2026-11-25 09:00:00')",
    "INSERT INTO member (workspace_id, external_id, is_admin, opted_out, nudges_unanswered, active, "
    "created_at, updated_at) VALUES (1, 'U1', FALSE, FALSE, 0, TRUE, '2026-11-25 09:00:00', "
    "'2026-11-25 09:00:00')",
]


def test_removed_at_is_added_empty_and_dropped_keeping_every_row(empty_database_url: str) -> None:
    url = empty_database_url
    run_in_thread(lambda: migrate.upgrade(url, "0022"))
    _run(url, SEED, "SELECT 1")
    run_in_thread(lambda: migrate.upgrade(url, "0023"))
    assert _run(url, [], "SELECT external_id, removed_at FROM workspace") == [("T1", None)]

    run_in_thread(lambda: command.downgrade(migrate.alembic_config(url), "0022"))
    assert _run(url, [], "SELECT external_id FROM member") == [("U1",)]
    assert _run(url, [], "SELECT external_id FROM workspace") == [("T1",)]


def test_downgrades_below_0018_and_0017_drop_their_columns_keeping_every_row(empty_database_url: str) -> None:
    """0018 (`workspace.uninstalled_at`, `enterprise_id`) and 0017 (`member.erased_at`) drop their columns
    in place too: a member, and what refers to it, outlive the downgrade."""
    url = empty_database_url
    run_in_thread(lambda: migrate.upgrade(url, "0018"))
    _run(url, SEED, "SELECT 1")
    run_in_thread(lambda: command.downgrade(migrate.alembic_config(url), "0016"))
    assert _run(url, [], "SELECT external_id FROM member") == [("U1",)]
    assert _run(url, [], "SELECT external_id FROM workspace") == [("T1",)]
