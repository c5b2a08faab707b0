"""`relais clock` for Teams alone, as a real process: no Slack setting at all, anonymous mode (the Agents
Playground's way, its Bot Connector faked on this machine). Relais was installed in a team through
`/api/messages` and an admin published a post there; the clock then delivers what is due through the
references the install stored: a scheduled post pushed to the channel as a card, a post past its expiry
withdrawn in place (its card edited), a message for a person known from the team's roster only (their
1:1 chat created first)."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from ipaddress import ip_network

from sqlalchemy import select

from bot import db
from bot.clock import SystemClock
from bot.config import Settings
from bot.demo.fake_teams import UPDATE, FakeTeams
from bot.demo.workspace import eventually
from bot.services import outbox
from bot.services.connections import CONNECTED_KIND
from handlers.teams.platform import TeamsPlatform
from models import Member, Post, PostState, Workspace
from tests.bot.test_cli import RELAIS, _environment
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import TENANT, teams_app
from tests.handlers.teams.team import ANN, BOT, CHANNEL, Team, actions, card_text
from tests.handlers.teams.test_install import team_activity

ARTICLE = "http://127.0.0.2:9/article"  # nothing listens there: the page cannot be read
# Rows this test writes itself are stamped with a fixed time; what is due is long past on any date.
LONG_AGO = datetime(2025, 11, 25, 9, 0, tzinfo=UTC)


async def test_a_teams_only_clock_delivers_what_is_due(
    empty_database_url: str, bot_framework: FakeBotFramework
) -> None:
    environment = _environment(DATABASE_URL=empty_database_url, RELAIS_TEAMS_ANONYMOUS="true")
    migrated = await asyncio.create_subprocess_exec(RELAIS, "migrate", env=environment)
    assert await migrated.wait() == 0
    settings = Settings(_env_file=None, database_url=empty_database_url, relais_teams_anonymous=True)
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    async with FakeTeams(tenant_id=TENANT, bot_id=BOT["id"], anonymous=True) as playground:
        playground.add_member("29:ann", aad_object_id="aad-ann", name="Ann Lee")
        playground.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
        playground.add_conversation(CHANNEL)  # Ann and Bob
        url = playground.service_url
        async with teams_app(
            settings,
            engine,
            bot_framework,
            playground,
            platform=TeamsPlatform(),
            fetch_allowed_networks=(ip_network("127.0.0.2/32"),),
        ) as teams:
            install = team_activity(url, "installationUpdate", action="add")
            assert (await teams.post(install, authorization=None)).status_code == 202
            queue = Team(teams, playground, sessions).in_channel(ANN, f"queue {ARTICLE} Proud of this one")
            assert (await teams.post(queue, authorization=None)).status_code == 202
            await teams.settle()
        (published,) = [a for a in playground.activities(CHANNEL) if actions(a)]
        async with sessions() as session:
            workspace = (await session.scalars(select(Workspace))).one()
            ann = (await session.scalars(select(Member).where(Member.external_id == "aad-ann"))).one()
            old = (await session.scalars(select(Post))).one()
            old.expires_at = LONG_AGO  # its time is over
            session.add(
                Post(
                    workspace_id=workspace.id,
                    url="https://example.com/soon",
                    title="Soon",
                    captions=["Now!"],
                    networks=["linkedin", "x"],
                    channels=[CHANNEL],
                    state=PostState.SCHEDULED,
                    publish_at=LONG_AGO,
                    created_by_id=ann.id,
                    created_at=LONG_AGO,
                    updated_at=LONG_AGO,
                )
            )
            await outbox.enqueue(
                session,
                workspace_id=workspace.id,
                kind=CONNECTED_KIND,
                destination="aad-bob",  # known from the team's roster only
                payload={"network": "linkedin", "lang": "en"},
                now=SystemClock().now(),  # the outbox keeps real time
            )
            await session.commit()
        playground.reset()

        clock = await asyncio.create_subprocess_exec(
            RELAIS, "clock", env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:

            async def delivered() -> bool:
                bob = playground.personal_conversation("29:bob")
                soon = [a for a in playground.activities(CHANNEL) if "example.com/soon" in card_text(a)]
                return bool(playground.calls_to(UPDATE) and soon and bob and bob.activities)

            await eventually(delivered, timeout=20)
            clock.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(clock.wait(), timeout=20) == 0
        finally:
            if clock.returncode is None:
                clock.kill()
                await clock.wait()
        _, stderr = await clock.communicate()
        assert b"Traceback" not in stderr, stderr.decode()

        (update,) = playground.calls_to(UPDATE)
        assert (update.conversation_id, update.activity_id) == (CHANNEL, published["id"])
        (expired,) = [a for a in playground.activities(CHANNEL) if a["id"] == published["id"]]
        assert actions(expired) == []
        assert "⌛ This post has expired." in card_text(expired)
        (pushed,) = [a for a in playground.activities(CHANNEL) if "example.com/soon" in card_text(a)]
        verbs = [a["verb"] for a in actions(pushed) if a["type"] == "Action.Execute"]
        assert verbs == ["share_linkedin", "share_x", "edit_share", "not_for_me"]
        bob_chat = playground.personal_conversation("29:bob")
        assert bob_chat is not None
        # (On a Tuesday or a Friday the week's reminders may come in the same pass.)
        assert any("Your LinkedIn account is connected" in card_text(a) for a in bob_chat.activities)
    async with sessions() as session:
        rows = (await session.execute(select(Post.url, Post.state))).all()
    assert sorted((url, state.value) for url, state in rows) == [
        (ARTICLE, PostState.EXPIRED.value),
        ("https://example.com/soon", PostState.PUBLISHED.value),
    ]
    await engine.dispose()
