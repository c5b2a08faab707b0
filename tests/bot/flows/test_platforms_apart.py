"""One process serves every platform: what it keeps in memory about a person (the share click's hot
path, `bot.services.hotpath.HotCache`) never mixes two platforms whose ids happen to be the same
string (a Slack team id and a Teams tenant id, a Slack user id and a Teams user id)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core import Relais
from bot.flows import acting, shares
from bot.flows.acting import Who
from bot.messages import Message
from models import Member, Network, Platform, Post, PostState, Share, Workspace
from tests.bot.flows.conftest import START

Sessions = async_sessionmaker[AsyncSession]
ON_SLACK = Who(Platform.SLACK, "SAME", "U1")
ON_TEAMS = Who(Platform.TEAMS, "SAME", "U1")  # someone else, in another organisation


async def _said(message: Message) -> None:
    return None


@pytest.fixture
async def writing(core: Relais) -> AsyncIterator[Relais]:
    core.shares.start()
    yield core
    await core.shares.stop()


async def _post_for(core: Relais, who: Who) -> int:
    """A published post in `who`'s workspace (created on first contact)."""
    async with core.sessions() as session:
        workspace, _ = await acting.rows(core, session, who)
        post = Post(
            workspace_id=workspace.id,
            url=f"https://example.com/{who.platform}",
            title="News",
            captions=["Words"],
            networks=["x"],
            channels=["CNEWS"],
            state=PostState.PUBLISHED,
            publish_at=START,
            published_at=START,
            created_at=START,
            updated_at=START,
        )
        session.add(post)
        await session.commit()
        return post.id


async def test_the_same_ids_on_two_platforms_are_two_people_on_the_share_hot_path(
    writing: Relais, sessions: Sessions
) -> None:
    slack_post = await _post_for(writing, ON_SLACK)
    teams_post = await _post_for(writing, ON_TEAMS)

    on_slack = await shares.open_share(writing, ON_SLACK, slack_post, Network.X, _said)
    on_teams = await shares.open_share(writing, ON_TEAMS, teams_post, Network.X, _said)

    assert on_slack is not None
    assert on_teams is not None
    assert (on_slack.counted, on_teams.counted) == (True, True)  # the Teams post is theirs to share
    async with sessions() as session:
        recorded = (
            await session.execute(
                select(Workspace.platform, Member.external_id, Share.post_id)
                .join(Member, Member.id == Share.member_id)
                .join(Workspace, Workspace.id == Share.workspace_id)
                .order_by(Share.id)
            )
        ).all()
    assert [tuple(row) for row in recorded] == [("slack", "U1", slack_post), ("teams", "U1", teams_post)]
    assert on_slack.member.workspace_id != on_teams.member.workspace_id
