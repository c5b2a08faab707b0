"""One process serves every platform: what it keeps in memory about a person (the share click's hot
path, `bot.services.hotpath.HotCache`) never mixes two platforms whose ids happen to be the same
string (a Slack team id and a Teams tenant id, a Slack user id and a Teams user id), and the one
RELAIS_ADMINS list names admins only where Relais met them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core import Relais
from bot.flows import acting, shares
from bot.flows.acting import Who
from bot.flows.commands import run_command
from bot.messages import Message, plain_text
from models import Member, Network, OutboxMessage, Platform, Post, PostState, Share, Suggestion, Workspace
from tests.bot.flows.conftest import ARTICLE, START, Directory, TextSurface, count

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
    assert on_slack.member is not None
    assert on_teams.member is not None
    assert on_slack.member.workspace_id != on_teams.member.workspace_id


async def test_a_suggestion_in_teams_never_goes_to_a_slack_admin_named_in_relais_admins(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    """RELAIS_ADMINS names UBOSS, whom Relais met in the Slack workspace: in the Teams workspace nobody is
    an admin, so a suggestion there is refused (nothing saved, nothing queued to a Slack id), and the
    member is told what makes an admin known."""
    await acting.caller(core, directory, Who(Platform.SLACK, "TEAM", "UBOSS"))
    anne = Who(Platform.TEAMS, "TENANT", "UANNE")  # French, per the directory

    refused = await run_command(core, surface, directory, anne, f"suggest {ARTICLE}")

    assert refused is not None
    assert plain_text(refused.summary) == (
        "Je ne connais encore ici aucun admin Relais à qui l'envoyer. Demandez à un admin d'utiliser Relais "
        "une fois (`help`, par exemple) ; si personne ici n'est admin, l'opérateur de Relais peut en "
        "désigner un dans RELAIS_ADMINS."
    )
    assert await count(sessions, Suggestion) == 0
    assert await count(sessions, OutboxMessage) == 0
