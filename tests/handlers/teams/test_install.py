"""Installing Relais in Teams, and people joining and leaving, through `/api/messages`: the tenant becomes
the workspace, the team's channel its default channel, each person a member (Entra object id, name,
locale, time zone) with the conversation reference to write to them first, the installer an admin who is
welcomed once in their language, however often Teams sends the news."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock, SystemClock
from bot.config import Settings
from bot.demo.fake_teams import MEMBERS, SEND, FakeTeams
from bot.services import outbox
from bot.services.connections import CONNECTED_KIND
from bot.services.conversations import reference_for
from handlers.teams.connector import Connector
from handlers.teams.notifier import TeamsNotifier
from handlers.teams.platform import TEAMS_SENDER_KEY, TeamsPlatform
from handlers.teams.references import StoredConversations
from models import ConversationRef, Member, OutboxMessage, OutboxState, Workspace
from scheduler import jobs
from scheduler.clock import build_context
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import (
    APP_ID,
    OUTBOUND_TOKEN,
    START,
    TENANT,
    FixedTokens,
    SettingsFactory,
    activity,
    teams_app,
)

Sessions = async_sessionmaker[AsyncSession]
CHANNEL = "19:general@thread.tacv2"
BOT = {"id": f"28:{APP_ID}", "name": "Relais"}
ANN = {"id": "29:ann", "aadObjectId": "aad-ann"}  # install activities carry no name
BOB = {"id": "29:bob", "aadObjectId": "aad-bob", "name": "Bob Stone"}
# Teams' ids of 1:1 chats are long: the SDK would cut them to 150 characters in its URLs.
PERSONAL = "a:1" + "Zs9dQ-kDf8" * 20


def team_activity(service_url: str, kind: str, **fields: Any) -> dict[str, Any]:
    """An activity from the General channel of a team, as Teams sends it."""
    return activity(
        service_url,
        kind,
        **{
            "from": ANN,
            "conversation": {
                "id": CHANNEL,
                "conversationType": "channel",
                "isGroup": True,
                "tenantId": TENANT,
            },
            "channelData": {
                "tenant": {"id": TENANT},
                "team": {"id": CHANNEL, "name": "Acme", "aadGroupId": "group-1"},
                "channel": {"id": CHANNEL},
                "settings": {"selectedChannel": {"id": CHANNEL}},
            },
            "entities": [{"type": "clientInfo", "locale": "fr-FR", "country": "FR"}],
            "locale": "fr-FR",
            "text": None,
            **fields,
        },
    )


def card_text(sent: dict[str, Any]) -> str:
    """Every TextBlock of the Adaptive Card a message carries."""
    (attachment,) = sent["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return "\n".join(block["text"] for block in attachment["content"]["body"] if block["type"] == "TextBlock")


async def members(sessions: Sessions) -> dict[str, Member]:
    async with sessions() as session:
        return {m.external_id: m for m in (await session.scalars(select(Member))).all()}


async def test_installing_in_a_team_makes_the_tenant_a_workspace_and_welcomes_the_installer_once(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
) -> None:
    async with FakeTeams(tenant_id=TENANT, bot_id=BOT["id"], token=OUTBOUND_TOKEN) as connector:
        connector.add_member("29:ann", aad_object_id="aad-ann", name="Ann Lee")
        connector.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
        connector.add_conversation(CHANNEL)  # the team's people: Ann and Bob
        url = connector.service_url
        install = team_activity(url, "installationUpdate", action="add")
        bot_added = team_activity(
            url, "conversationUpdate", membersAdded=[BOT], channelData={"tenant": {"id": TENANT}}
        )
        async with teams_app(teams_settings(), engine, bot_framework, connector) as teams:
            assert (await teams.post(install)).status_code == 202
            # Teams also says the bot was added, and may send either again: no second welcome.
            for again in (bot_added, install, bot_added):
                assert (await teams.post(again)).status_code == 202
        (welcome,) = connector.activities(CHANNEL)
    assert "👋 Relais est installé" in card_text(welcome)
    assert "queue <url> pour publier votre premier lien" in card_text(welcome)
    assert "replyToId" not in welcome  # a message of its own, sent through the outbox
    # The team's people, listed on each install activity (the news may come before Teams lists them all).
    assert len(connector.calls_to(MEMBERS)) == 4
    assert {call.token for call in connector.calls} == {OUTBOUND_TOKEN}
    assert connector.violations == []

    async with sessions() as session:
        workspace = (await session.scalars(select(Workspace))).one()
        assert (workspace.platform, workspace.external_id) == ("teams", TENANT)
        assert workspace.default_channel == CHANNEL
        channel = await reference_for(session, workspace_id=workspace.id, key=CHANNEL)
        ann = await reference_for(session, workspace_id=workspace.id, key="aad-ann")
    people = await members(sessions)
    assert sorted(people) == ["aad-ann", "aad-bob"]
    ann_member, bob_member = people["aad-ann"], people["aad-bob"]
    assert (ann_member.display_name, ann_member.is_admin, ann_member.locale) == ("Ann Lee", True, "fr-FR")
    assert (bob_member.display_name, bob_member.is_admin, bob_member.active) == ("Bob Stone", False, True)
    async with sessions() as session:
        bob = await reference_for(session, workspace_id=workspace.id, key="aad-bob")
    assert bob is not None
    assert (bob["user"]["id"], bob["conversation"]["id"]) == ("29:bob", CHANNEL)
    assert channel is not None
    assert (channel["serviceUrl"], channel["conversation"]["id"], channel["bot"]) == (url, CHANNEL, BOT)
    assert "user" not in channel
    assert ann is not None
    assert (ann["user"]["id"], ann["user"]["aadObjectId"]) == (ANN["id"], ANN["aadObjectId"])
    assert (ann["conversation"]["tenantId"], ann["channelId"]) == (TENANT, "msteams")
    assert "activityId" not in ann


async def test_installing_in_a_personal_chat_welcomes_in_the_chat_with_the_persons_time_zone(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    fake_teams.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
    fake_teams.add_conversation(PERSONAL, conversation_type="personal", members=["29:bob"])
    install = activity(
        fake_teams.service_url,
        "installationUpdate",
        action="add",
        text=None,
        **{
            "from": BOB,
            "conversation": {"id": PERSONAL, "conversationType": "personal", "tenantId": TENANT},
            "entities": [{"type": "clientInfo", "locale": "en-GB", "timezone": "Europe/Paris"}],
            "locale": "en-GB",
        },
    )
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(install)).status_code == 202
    (welcome,) = fake_teams.activities(PERSONAL)
    assert "👋 Relais is installed" in card_text(welcome)
    bob = (await members(sessions))["aad-bob"]
    assert (bob.display_name, bob.locale, bob.timezone, bob.is_admin) == (
        "Bob Stone",
        "en-GB",
        "Europe/Paris",
        True,
    )
    async with sessions() as session:
        workspace = (await session.scalars(select(Workspace))).one()
        assert workspace.default_channel is None  # a personal chat is no channel
        reference = await reference_for(session, workspace_id=workspace.id, key="aad-bob")
    assert reference is not None
    assert reference["conversation"] == {
        "id": PERSONAL,
        "conversationType": "personal",
        "tenantId": TENANT,
    }


async def test_people_joining_and_leaving_a_team_are_members_with_a_way_to_reach_them(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    fake_teams.add_conversation(CHANNEL)
    url = fake_teams.service_url
    carol = {"id": "29:carol", "aadObjectId": "aad-carol"}
    guest = {"id": "29:guest"}  # no Entra object id: not someone of the tenant

    def update(**fields: Any) -> dict[str, Any]:
        return team_activity(url, "conversationUpdate", channelData={"tenant": {"id": TENANT}}, **fields)

    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(update(membersAdded=[BOB, carol, guest]))).status_code == 202
        joined = await members(sessions)
        assert (await teams.post(update(membersRemoved=[BOB]))).status_code == 202
        after_leaving = await members(sessions)
        assert (await teams.post(update(membersAdded=[BOB]))).status_code == 202
        back = await members(sessions)
    assert sorted(joined) == ["aad-bob", "aad-carol"]
    assert (joined["aad-bob"].display_name, joined["aad-bob"].active) == ("Bob Stone", True)
    assert joined["aad-bob"].locale is None  # the activity's locale is the sender's, not theirs
    assert not any(member.is_admin for member in joined.values())
    assert (after_leaving["aad-bob"].active, after_leaving["aad-carol"].active) == (False, True)
    assert back["aad-bob"].active
    assert fake_teams.calls == []  # nobody is written to
    async with sessions() as session:
        rows = (await session.scalars(select(ConversationRef).order_by(ConversationRef.key))).all()
    assert [row.key for row in rows] == ["aad-bob", "aad-carol"]
    assert [row.reference["user"]["id"] for row in rows] == ["29:bob", "29:carol"]
    assert {json.dumps(row.reference["conversation"], sort_keys=True) for row in rows} == {
        json.dumps({"conversationType": "channel", "id": CHANNEL, "isGroup": True, "tenantId": TENANT})
    }


async def test_a_time_zone_that_is_no_time_zone_is_not_kept(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    fake_teams.add_conversation(CHANNEL)
    install = team_activity(
        fake_teams.service_url,
        "installationUpdate",
        action="add",
        entities=[{"type": "clientInfo", "locale": "en-US", "timezone": "Mars/Olympus_Mons"}],
        localTimezone="../../etc/passwd",
    )
    del install["locale"]  # the clientInfo entity's then
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(install)).status_code == 202
    ann = (await members(sessions))["aad-ann"]
    assert (ann.timezone, ann.locale) == (None, "en-US")
    (welcome,) = fake_teams.activities(CHANNEL)
    assert "Relais is installed" in card_text(welcome)


async def test_a_local_client_installs_relais_in_anonymous_mode(
    database_url: str, engine: AsyncEngine, sessions: Sessions, bot_framework: FakeBotFramework
) -> None:
    """The Agents Playground: no token either way, a loopback serviceUrl."""
    anonymous = Settings(_env_file=None, database_url=database_url, relais_teams_anonymous=True)
    async with FakeTeams(tenant_id=TENANT, bot_id=BOT["id"], anonymous=True) as playground:
        playground.add_conversation(CHANNEL)
        install = team_activity(playground.service_url, "installationUpdate", action="add")
        async with teams_app(anonymous, engine, bot_framework, playground, platform=TeamsPlatform()) as teams:
            assert (await teams.post(install, authorization=None)).status_code == 202
        (welcome,) = playground.activities(CHANNEL)
        assert {call.token for call in playground.calls} == {None}
    assert "Relais est installé" in card_text(welcome)
    assert (await members(sessions))["aad-ann"].is_admin


async def test_the_references_stored_at_install_let_the_notifier_write_first(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    """What the outbox does later with what an install stored: a person met in a team gets their 1:1
    chat created and the message there; the channel gets its message in the channel."""
    fake_teams.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
    fake_teams.add_member("29:ann", aad_object_id="aad-ann", name="Ann Lee")
    fake_teams.add_conversation(CHANNEL)
    url = fake_teams.service_url
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(team_activity(url, "installationUpdate", action="add"))).status_code == 202
        added = team_activity(
            url, "conversationUpdate", membersAdded=[BOB], channelData={"tenant": {"id": TENANT}}
        )
        assert (await teams.post(added)).status_code == 202
    async with sessions() as session:
        workspace_id = (await session.scalars(select(Workspace.id))).one()
    notifier = TeamsNotifier(StoredConversations(sessions), Connector(FixedTokens()))
    payload = {"network": "x", "lang": "en"}
    for destination in ("aad-bob", CHANNEL):
        sent = await notifier.send(
            kind=CONNECTED_KIND, destination=destination, payload=payload, workspace_id=workspace_id
        )
        assert sent.ok, sent
    chat = fake_teams.personal_conversation("29:bob")
    assert chat is not None
    assert len(chat.activities) == 1
    assert len(fake_teams.activities(CHANNEL)) == 2  # the welcome, then this


ODD = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
ACCOUNT = (
    st.fixed_dictionaries(
        {"id": st.text(max_size=12)}, optional={"aadObjectId": ODD, "name": ODD, "role": ODD}
    )
    | ODD
)
ODD_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "membersAdded": st.lists(ACCOUNT, max_size=3) | ODD,
        "membersRemoved": st.lists(ACCOUNT, max_size=3) | ODD,
        "from": ACCOUNT,
        "action": st.sampled_from(["add", "remove", "add-upgrade", ""]) | ODD,
        "channelData": ODD,
        "entities": st.lists(
            st.fixed_dictionaries({"type": st.just("clientInfo")}, optional={"timezone": ODD, "locale": ODD})
            | ODD,
            max_size=2,
        ),
        "locale": ODD,
        "localTimezone": ODD,
        # The channel the fake knows (a welcome to a conversation Teams does not know fails: logged).
        "conversation": st.fixed_dictionaries(
            {"id": st.sampled_from([CHANNEL, CHANNEL + ";messageid=1764200000001"])},
            optional={"tenantId": ODD, "conversationType": ODD},
        ),
    },
)


async def test_odd_install_and_membership_activities_signed_by_the_bot_framework_never_break_relais(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whatever shape Teams (or someone holding a valid token) gives these activities: a 2xx or a 400,
    and no turn fails (a failed turn is logged by the adapter's error handler)."""
    fake_teams.rate_limits = False
    fake_teams.add_conversation(CHANNEL)
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:

        @settings(
            max_examples=80,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            database=None,
            derandomize=True,
        )
        @given(kind=st.sampled_from(["installationUpdate", "conversationUpdate"]), fields=ODD_FIELDS)
        def examples(kind: str, fields: dict[str, Any]) -> None:
            body = {**team_activity(fake_teams.service_url, kind), **fields}
            response = asyncio.run_coroutine_threadsafe(teams.post(body), loop).result()
            assert response.status_code in (200, 202, 400), (body, response.text)
            seen.add(response.status_code)

        seen: set[int] = set()

        loop = asyncio.get_running_loop()
        await asyncio.to_thread(examples)
    assert seen == {202, 400}  # some reached the turn, some were no activity
    failed = [r for r in caplog.records if r.name.startswith("handlers.") and r.levelno >= logging.ERROR]
    assert failed == [], [r.getMessage() for r in failed]


async def test_when_the_team_cannot_be_listed_the_install_still_holds(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    fake_teams.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
    fake_teams.add_conversation(CHANNEL)
    fake_teams.fail_next(MEMBERS, status=502)
    install = team_activity(fake_teams.service_url, "installationUpdate", action="add")
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(install)).status_code == 202
    assert sorted(await members(sessions)) == ["aad-ann"]  # Bob is met when he joins or writes
    (welcome,) = fake_teams.activities(CHANNEL)
    assert "Relais est installé" in card_text(welcome)


async def test_the_clock_of_a_teams_only_deployment_sends_through_the_teams_notifier(
    database_url: str, engine: AsyncEngine, sessions: Sessions, bot_framework: FakeBotFramework
) -> None:
    """`relais clock`'s context, built from settings with Teams alone (anonymous, as with the Agents
    Playground): the outbox's messages for the Teams workspace go out as cards through the references
    the install stored — the member's 1:1 chat created on the way."""
    anonymous = Settings(_env_file=None, database_url=database_url, relais_teams_anonymous=True)
    async with FakeTeams(tenant_id=TENANT, bot_id=BOT["id"], anonymous=True) as playground:
        playground.add_conversation(CHANNEL)
        playground.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
        url = playground.service_url
        async with teams_app(anonymous, engine, bot_framework, playground, platform=TeamsPlatform()) as teams:
            install = team_activity(url, "installationUpdate", action="add")
            assert (await teams.post(install, authorization=None)).status_code == 202
            added = team_activity(
                url, "conversationUpdate", membersAdded=[BOB], channelData={"tenant": {"id": TENANT}}
            )
            assert (await teams.post(added, authorization=None)).status_code == 202
        async with sessions() as session:
            workspace = (await session.scalars(select(Workspace))).one()
            for destination in ("aad-bob", CHANNEL):
                await outbox.enqueue(
                    session,
                    workspace_id=workspace.id,
                    kind=CONNECTED_KIND,
                    destination=destination,
                    payload={"network": "linkedin", "lang": "en"},
                    now=SystemClock().now(),  # the outbox keeps real time (`build_context`)
                )
            await session.commit()
        ctx, _, close = build_context(anonymous)
        try:
            assert sorted(ctx.notifiers) == ["teams"]
            assert await jobs.run_job(ctx, "outbox") == "0 API shares, 2 messages"
        finally:
            await close()
        chat = playground.personal_conversation("29:bob")
        assert chat is not None
        (notice,) = chat.activities
        assert "LinkedIn" in card_text(notice)
        assert len(playground.activities(CHANNEL)) == 2  # the welcome, then this
    assert workspace.platform == "teams"


async def test_a_welcome_teams_refuses_for_a_while_arrives_once_later_and_the_team_is_listed_at_once(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    """Teams throttles the welcome (429), then fails it (503): the install holds all the same (the team's
    people listed in the same turn), and the outbox sends the welcome once Teams takes it again, however
    often Teams sends the news meanwhile."""
    fake_teams.add_member("29:ann", aad_object_id="aad-ann", name="Ann Lee")
    fake_teams.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone")
    fake_teams.add_conversation(CHANNEL)
    fake_teams.fail_next(SEND, status=429, retry_after=1)
    fake_teams.fail_next(SEND, status=503, retry_after=1)
    clock = FrozenClock(START)
    install = team_activity(fake_teams.service_url, "installationUpdate", action="add")
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams, clock=clock) as teams:
        assert (await teams.post(install)).status_code == 202
        await teams.settle()
        assert sorted(await members(sessions)) == ["aad-ann", "aad-bob"]  # listed at once
        assert [call.status for call in fake_teams.calls_to(SEND)] == [429]
        assert (await teams.post(install)).status_code == 202  # Teams sends the news again
        await teams.settle()
        assert fake_teams.activities(CHANNEL) == []
        for _ in range(2):  # past the Retry-After (and its jitter) each time
            clock.advance(timedelta(seconds=2))
            assert teams.app is not None
            teams.app[TEAMS_SENDER_KEY].soon()
            await teams.settle()
    assert [call.status for call in fake_teams.calls_to(SEND)] == [429, 503, 201]
    (welcome,) = fake_teams.activities(CHANNEL)
    assert "Relais est installé" in card_text(welcome)
    async with sessions() as session:
        (row,) = (await session.scalars(select(OutboxMessage))).all()
    assert (row.kind, row.destination, row.state) == ("welcome", CHANNEL, OutboxState.SENT)


async def test_the_channel_picked_at_install_is_the_default_channel_and_gets_the_welcome(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    """Adding Relais to a team, the installer picks a channel; Teams sends the install from the General
    channel all the same, naming the one picked in `channelData.settings.selectedChannel`."""
    news = "19:news@thread.tacv2"
    fake_teams.add_conversation(CHANNEL)
    fake_teams.add_conversation(news)
    install = team_activity(fake_teams.service_url, "installationUpdate", action="add")
    install["channelData"]["settings"] = {"selectedChannel": {"id": news}}
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        assert (await teams.post(install)).status_code == 202
    (welcome,) = fake_teams.activities(news)
    assert "Relais est installé" in card_text(welcome)
    assert fake_teams.activities(CHANNEL) == []
    async with sessions() as session:
        workspace = (await session.scalars(select(Workspace))).one()
        reference = await reference_for(session, workspace_id=workspace.id, key=news)
    assert workspace.default_channel == news
    assert reference is not None
    assert reference["conversation"]["id"] == news
    assert (reference["serviceUrl"], reference["bot"]) == (fake_teams.service_url, BOT)
    assert "name" not in reference["conversation"]  # Teams did not name it: not the team's name either


async def test_one_welcome_per_team_when_only_one_install_activity_names_the_picked_channel(
    teams_settings: SettingsFactory,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    fake_teams: FakeTeams,
) -> None:
    """Teams says Relais was installed twice (installationUpdate, conversationUpdate): should only one of
    them name the channel picked, the team is welcomed once all the same, in that channel."""
    news = "19:news@thread.tacv2"
    fake_teams.add_conversation(CHANNEL)
    fake_teams.add_conversation(news)
    install = team_activity(fake_teams.service_url, "installationUpdate", action="add")
    install["channelData"]["settings"] = {"selectedChannel": {"id": news}}
    bot_added = team_activity(
        fake_teams.service_url,
        "conversationUpdate",
        membersAdded=[BOT],
        channelData={"tenant": {"id": TENANT}, "team": {"id": CHANNEL}},
    )
    async with teams_app(teams_settings(), engine, bot_framework, fake_teams) as teams:
        for body in (install, bot_added):
            assert (await teams.post(body)).status_code == 202
    (welcome,) = fake_teams.activities(news)
    assert "Relais est installé" in card_text(welcome)
    assert fake_teams.activities(CHANNEL) == []
    async with sessions() as session:
        assert (await session.scalars(select(Workspace.default_channel))).one() == news
