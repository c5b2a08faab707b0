"""The check that closes the cross-workspace tests (`tests.workspace_integrity`) finds a row of one
workspace that refers to another's, and covers every kind of row a request can name."""

from __future__ import annotations

from sqlalchemy import update

from models import Share
from tests.handlers.slack.test_cross_workspace import Pair, Sessions
from tests.handlers.slack.test_cross_workspace import pair as pair  # the two installed workspaces
from tests.handlers.slack.test_install import settings as settings  # the installs' settings
from tests.workspace_integrity import crossing_rows, references


def test_every_kind_of_row_a_request_names_is_checked() -> None:
    """The posts, members and tracked links that shares, dismissals, links, clicks and suggestions refer
    to (no table refers to a share or a suggestion)."""
    checked = {(table.name, column.name, target.name) for table, column, target in references()}
    assert {
        ("share", "post_id", "post"),
        ("share", "member_id", "member"),
        ("dismissal", "post_id", "post"),
        ("tracked_link", "member_id", "member"),
        ("click", "link_id", "tracked_link"),
        ("suggestion", "decided_by_id", "member"),
        ("dashboard_week", "post_id", "post"),
    } <= checked


async def test_a_share_of_one_workspace_naming_the_others_post_is_found(
    pair: Pair, sessions: Sessions
) -> None:
    acme, globex = pair.sides["acme"], pair.sides["globex"]
    assert await crossing_rows(sessions) == []
    async with sessions() as session:
        await session.execute(update(Share).where(Share.id == acme.share).values(post_id=globex.post))
        await session.commit()
    assert await crossing_rows(sessions) == ["share.post_id -> post: 1"]
