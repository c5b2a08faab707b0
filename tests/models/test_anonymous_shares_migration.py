"""Revision 0022: a share and a tracked link may stand for nobody (`member_id` NULL); those of members
erased before it are detached from their placeholder row, and nothing else moves (clicks and tallies of
everyone else's links stay, on SQLite too, where the tables are rebuilt)."""

from __future__ import annotations

import pytest
from alembic import command

from bot import migrate
from tests.conftest import run_in_thread
from tests.models.test_retention_migration import _run

# Member 1 is live, member 2 erased before the upgrade (its placeholder row); each shared and has a link.
SEED = [
    "INSERT INTO workspace (platform, external_id, timezone, settings, created_at, updated_at) "
    "VALUES ('slack', 'T1', 'UTC', '{}', '2026-11-25', '2026-11-25')",
    "INSERT INTO member (workspace_id, external_id, is_admin, opted_out, nudges_unanswered, active, "
    "created_at, updated_at) VALUES (1, 'U1', FALSE, FALSE, 0, TRUE, '2026-11-25', '2026-11-25')",
    "INSERT INTO member (workspace_id, external_id, is_admin, opted_out, nudges_unanswered, active, "
    "created_at, updated_at, erased_at) "
    "VALUES (1, 'erased:x', FALSE, TRUE, 0, FALSE, '2026-11-25', '2026-11-25', '2026-11-25')",
    "INSERT INTO post (workspace_id, url, captions, networks, channels, state, created_at, updated_at) "
    "VALUES (1, 'https://acme.example/', '[]', '[\"x\"]', '[]', 'published', '2026-11-25', '2026-11-25')",
    "INSERT INTO share (workspace_id, member_id, post_id, network, status, attempts, created_at, "
    "updated_at) VALUES (1, 1, 1, 'x', 'intent', 0, '2026-11-25', '2026-11-25')",
    "INSERT INTO share (workspace_id, member_id, post_id, network, status, attempts, created_at, "
    "updated_at) VALUES (1, 2, 1, 'x', 'intent', 0, '2026-11-25', '2026-11-25')",
    "INSERT INTO tracked_link (workspace_id, code, post_id, member_id, network, created_at) "
    "VALUES (1, 'code1', 1, 1, 'x', '2026-11-25')",
    "INSERT INTO tracked_link (workspace_id, code, post_id, member_id, network, created_at) "
    "VALUES (1, 'code2', 1, 2, 'x', '2026-11-25')",
    "INSERT INTO click (workspace_id, link_id, at, hour, counted, visitor, clicks) "
    "VALUES (1, 1, '2026-11-25', '2026-11-25', TRUE, 'key', 1)",
    "INSERT INTO visit_tally (workspace_id, link_id, hour, robots, repeats, withdrawn) "
    "VALUES (1, 1, '2026-11-25', 2, 1, 0)",
]
LIVE_ONLY = [s for s in SEED if "erased:x" not in s and "VALUES (1, 2, 1" not in s and "'code2'" not in s]


def test_erased_members_shares_and_links_are_detached_and_nothing_else_moves(empty_database_url: str) -> None:
    url = empty_database_url
    run_in_thread(lambda: migrate.upgrade(url, "0021"))
    _run(url, SEED, "SELECT 1")

    run_in_thread(lambda: migrate.upgrade(url, "0022"))
    assert _run(url, [], "SELECT id, member_id, status FROM share ORDER BY id") == [
        (1, 1, "intent"),
        (2, None, "intent"),
    ]
    assert _run(url, [], "SELECT code, member_id FROM tracked_link ORDER BY id") == [
        ("code1", 1),
        ("code2", None),
    ]
    assert _run(url, [], "SELECT link_id, clicks FROM click") == [(1, 1)]
    assert _run(url, [], "SELECT link_id, robots, repeats FROM visit_tally") == [(1, 2, 1)]
    # Anonymous rows do not collide with each other on the unique keys.
    _run(
        url,
        [
            "INSERT INTO share (workspace_id, member_id, post_id, network, status, attempts, created_at, "
            "updated_at) VALUES (1, NULL, 1, 'x', 'posted', 1, '2026-11-25', '2026-11-25')",
            "INSERT INTO tracked_link (workspace_id, code, post_id, member_id, network, created_at) "
            "VALUES (1, 'code3', 1, NULL, 'x', '2026-11-25')",
        ],
        "SELECT 1",
    )

    with pytest.raises(RuntimeError, match=r"Cannot downgrade below revision 0022: 2 share rows"):
        run_in_thread(lambda: command.downgrade(migrate.alembic_config(url), "0021"))
    assert _run(url, [], "SELECT version_num FROM alembic_version") == [("0022",)]
    assert _run(url, [], "SELECT COUNT(*) FROM click") == [(1,)]


def test_a_database_without_erasures_goes_back_down(empty_database_url: str) -> None:
    url = empty_database_url
    run_in_thread(lambda: migrate.upgrade(url, "0021"))
    _run(url, LIVE_ONLY, "SELECT 1")
    run_in_thread(lambda: migrate.upgrade(url, "0022"))
    run_in_thread(lambda: command.downgrade(migrate.alembic_config(url), "0021"))
    assert _run(url, [], "SELECT member_id FROM share") == [(1,)]
    assert _run(url, [], "SELECT link_id, clicks FROM click") == [(1, 1)]
    assert _run(url, [], "SELECT link_id, robots FROM visit_tally") == [(1, 2)]
