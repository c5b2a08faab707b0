"""Revision 0022: a share and a tracked link may stand for nobody (`member_id` NULL); those of members
erased before it are detached from their placeholder row, and nothing else moves (clicks and tallies of
everyone else's links stay, on SQLite too, where the tables are rebuilt)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alembic import command

from bot import db, migrate
from bot.services import analytics
from bot.services.analytics import week_number, week_of
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
# The erased member also queued a post and decided the live member's suggestion; the dashboard, refreshed
# at 09:00 on 30 November (fresh then), holds the weekly figures of both members. Workspace 2 has no
# erasure: its dashboard stays as it is.
DASHBOARD_WEEK = week_number(week_of(datetime(2026, 11, 25, tzinfo=UTC)))
LOOKED_AT = datetime(2026, 11, 30, 9, tzinfo=UTC)
ERASED_AUTHOR_AND_DECIDER = [
    "INSERT INTO post (workspace_id, url, captions, networks, channels, state, created_by_id, created_at, "
    "updated_at) VALUES (1, 'https://acme.example/2', '[]', '[\"x\"]', '[]', 'published', 2, '2026-11-25', "
    "'2026-11-25')",
    "INSERT INTO suggestion (workspace_id, member_id, url, state, decided_by_id, decided_at, post_id, "
    "review_messages, created_at, updated_at) VALUES (1, 1, 'https://acme.example/3', 'rejected', 2, "
    "'2026-11-25', NULL, '[]', '2026-11-25', '2026-11-25')",
    *(
        "INSERT INTO dashboard_member_week (workspace_id, channel, week, member_id, network, shares, clicks) "  # noqa: S608
        f"VALUES (1, '', {DASHBOARD_WEEK}, {member}, 'x', 1, 0)"
        for member in (1, 2)
    ),
    "INSERT INTO workspace (platform, external_id, timezone, settings, created_at, updated_at) "
    "VALUES ('slack', 'T2', 'UTC', '{}', '2026-11-25', '2026-11-25')",
    *(
        "INSERT INTO dashboard_refresh (workspace_id, watermark, refreshed_at) "  # noqa: S608
        f"VALUES ({workspace}, '2026-11-30 08:50:00', '2026-11-30 09:00:00')"
        for workspace in (1, 2)
    ),
]


def _dashboard_looked_at(url: str) -> None:
    """Workspace 1's dashboard looked at, as `/relais dashboard` would (`analytics.refresh`)."""

    async def look() -> None:
        engine = db.create_engine(url)
        try:
            async with db.session_factory(engine)() as session:
                await analytics.refresh(session, workspace_id=1, now=LOOKED_AT)
                await session.commit()
        finally:
            await engine.dispose()

    run_in_thread(lambda: asyncio.run(look()))


def test_erased_members_shares_and_links_are_detached_and_nothing_else_moves(empty_database_url: str) -> None:
    url = empty_database_url
    run_in_thread(lambda: migrate.upgrade(url, "0021"))
    _run(url, [*SEED, *ERASED_AUTHOR_AND_DECIDER], "SELECT 1")

    run_in_thread(lambda: migrate.upgrade(url, "0022"))
    # Their post and their decision stay, by nobody.
    assert _run(url, [], "SELECT url, created_by_id FROM post ORDER BY id") == [
        ("https://acme.example/", None),
        ("https://acme.example/2", None),
    ]
    assert _run(url, [], "SELECT member_id, state, decided_by_id FROM suggestion") == [(1, "rejected", None)]
    # The dashboard of their workspace is rebuilt from every row at its next look (that of workspace 2,
    # which erased nobody, is kept): no weekly figure of the erased member is left.
    assert _run(url, [], "SELECT workspace_id, watermark IS NULL FROM dashboard_refresh ORDER BY 1") == [
        (1, True),
        (2, False),
    ]
    _dashboard_looked_at(url)
    assert _run(url, [], "SELECT member_id, week, shares FROM dashboard_member_week WHERE channel = ''") == [
        (1, DASHBOARD_WEEK, 1)
    ]
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
