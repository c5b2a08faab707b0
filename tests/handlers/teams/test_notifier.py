"""The Teams notifier against the fake Bot Connector: cards to a channel and to members (their 1:1 chat
created once, then reused), edits in place, Teams' errors as neutral codes, and a pace that keeps
under Teams' limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from microsoft_agents.hosting.core import AnonymousTokenProvider
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_teams import FakeTeams
from bot.notifier import (
    CHANNEL_GONE,
    CHANNEL_UNUSABLE,
    NOT_A_MEMBER,
    RATE_LIMITED,
    RECIPIENT_GONE,
    REFUSED,
    TOKEN_REVOKED,
    TOO_BIG,
    TRANSIENT,
)
from bot.services import conversations as stored_conversations
from bot.services import members, outbox, recipients
from bot.services.outbox import WorkspacePace, take_slot
from bot.services.posts import PostCard
from handlers.teams.connector import Connector
from handlers.teams.notifier import TEAMS_RATE, TEAMS_TENANT_RATE, TeamsNotifier, TenantPacer
from handlers.teams.references import StoredConversations
from models import Delivery, Member, OutboxMessage, OutboxState, Post, PostState

TOKEN = "fake-outbound-token"
TENANT = "tenant-1"
BOT = {"id": "28:relais-app-id", "name": "Relais"}
CHANNEL = "19:news@thread.tacv2"
WORKSPACE = 1
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
POST = PostCard(
    7, "https://example.com/launch", "Our launch", None, None, "Proud!", ("linkedin",), "published"
)


class FixedTokens(AnonymousTokenProvider):
    """The bot's token, as MSAL would get it from Microsoft Entra ID (out of reach here)."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        return self.token


class FailingTokens(AnonymousTokenProvider):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        raise self.error


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeTeams]:
    async with FakeTeams(tenant_id=TENANT, bot_id=BOT["id"], token=TOKEN, clock=clock) as server:
        server.add_member("29:admin", aad_object_id="aad-admin", name="Ada Admin")
        server.add_member("29:ann", aad_object_id="aad-ann", name="Ann Lee")
        server.add_member("29:bob", aad_object_id="aad-bob", name="Bob Stone", installed=False)
        server.add_conversation(CHANNEL)
        yield server


def reference(
    fake: FakeTeams,
    conversation: str,
    *,
    kind: str = "channel",
    user: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    ref: dict[str, Any] = {
        "serviceUrl": fake.service_url,
        "channelId": "msteams",
        "bot": BOT,
        "conversation": {"id": conversation, "conversationType": kind, "tenantId": TENANT},
    }
    if name is not None:
        ref["conversation"]["name"] = name
    if user is not None:
        ref["user"] = {"id": f"29:{user}", "aadObjectId": f"aad-{user}"}
    return ref


@pytest.fixture
async def conversations(fake: FakeTeams, sessions: async_sessionmaker[AsyncSession]) -> StoredConversations:
    """The core's records: the tenant's workspace, Ann's name, and the references Relais stored."""
    fake.add_conversation("a:admin-chat", conversation_type="personal", members=["29:admin"])
    references = {
        # The channel, as stored when the admin installed Relais in the team (the reference names them).
        CHANNEL: reference(fake, f"{CHANNEL};messageid=1764200000000", user="admin", name="News"),
        # Ann and Bob are known from the team only; the admin from their 1:1 chat.
        "aad-ann": reference(fake, CHANNEL, user="ann"),
        "aad-bob": reference(fake, CHANNEL, user="bob"),
        "aad-admin": reference(fake, "a:admin-chat", kind="personal", user="admin"),
    }
    async with sessions() as session:
        workspace = await members.ensure_workspace(session, platform="teams", external_id=TENANT, now=START)
        assert workspace.id == WORKSPACE
        ann = await members.ensure_member(session, workspace=workspace, external_id="aad-ann", now=START)
        ann.display_name = "Ann Lee"
        for key, stored in references.items():
            await stored_conversations.remember(
                session, workspace_id=workspace.id, key=key, reference=stored, now=START
            )
        await session.commit()
    return StoredConversations(sessions, clock=FrozenClock(LATER))


async def stored(sessions: async_sessionmaker[AsyncSession], key: str) -> dict[str, Any] | None:
    async with sessions() as session:
        return await stored_conversations.reference_for(session, workspace_id=WORKSPACE, key=key)


@pytest.fixture
def notifier(conversations: StoredConversations) -> TeamsNotifier:
    return TeamsNotifier(conversations, Connector(FixedTokens()))


def post_payload(card: PostCard = POST, **extra: Any) -> dict[str, Any]:
    return {"post": card.to_payload(), "lang": "en", **extra}


# ---------------------------------------------------------------------------------------------------------
# sending


async def test_a_post_reaches_the_channel_as_a_card(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    outcome = await notifier.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )

    [activity] = fake.activities(CHANNEL)
    assert outcome.ok
    assert (outcome.message_id, outcome.channel) == (activity["id"], CHANNEL)
    [call] = fake.calls
    assert call.path == f"v3/conversations/{CHANNEL}/activities"  # a new post, not a reply in a thread
    assert call.token == TOKEN
    assert activity["summary"] == "Share this: Our launch https://example.com/launch"
    assert "text" not in activity
    [card] = fake.cards(CHANNEL)
    assert card["version"] == "1.5"
    assert [action["verb"] for action in card["body"][-1]["actions"]] == [
        "share_linkedin",
        "edit_share",
        "not_for_me",
    ]
    assert fake.violations == []


async def test_a_member_known_from_a_team_gets_a_chat_created_once(
    fake: FakeTeams, notifier: TeamsNotifier, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await notifier.send(
        kind="post", destination="aad-ann", payload=post_payload(), workspace_id=WORKSPACE
    )
    second = await notifier.send(kind="rank", destination="aad-ann", payload=RANK, workspace_id=WORKSPACE)

    chat = fake.personal_conversation("aad-ann")
    assert chat is not None
    assert first.ok
    assert second.ok
    assert (first.channel, second.channel) == ("aad-ann", "aad-ann")
    assert len(fake.calls_to("create_conversation")) == 1
    created = fake.calls_to("create_conversation")[0].body
    assert created["members"] == [{"id": "29:ann"}]
    assert (created["tenantId"], created["bot"]) == (TENANT, BOT)
    assert [activity["id"] for activity in chat.activities] == [first.message_id, second.message_id]
    assert fake.activities(CHANNEL) == []  # nothing in the team's channel
    remembered = await stored(sessions, "aad-ann")
    assert remembered is not None
    assert remembered["conversation"] == {"conversationType": "personal", "id": chat.id, "tenantId": TENANT}
    assert remembered["user"]["aadObjectId"] == "aad-ann"
    assert remembered["serviceUrl"] == fake.service_url


async def test_a_member_with_a_chat_is_written_to_there(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    outcome = await notifier.send(kind="rank", destination="aad-admin", payload=RANK, workspace_id=WORKSPACE)

    assert outcome.ok
    assert len(fake.activities("a:admin-chat")) == 1
    assert fake.calls_to("create_conversation") == []


async def test_an_edit_replaces_the_card_in_place(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    sent = await notifier.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )
    assert sent.message_id is not None
    cancelled = PostCard(7, POST.url, POST.title, None, None, "Proud!", ("linkedin",), "cancelled")

    edited = await notifier.send(
        kind="post_update",
        destination=CHANNEL,
        payload=post_payload(cancelled, message_id=sent.message_id),
        workspace_id=WORKSPACE,
    )

    assert edited.ok
    assert edited.message_id == sent.message_id
    [card] = fake.cards(CHANNEL)
    assert "Action." not in str(card)
    assert fake.calls[-1].operation == "update"


async def test_a_mentioned_member_is_named(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    review = {
        "suggestion_id": 3,
        "author": "aad-ann",
        "url": "https://example.com/s",
        "reason": "Good",
        "lang": "en",
    }

    outcome = await notifier.send(
        kind="suggestion_review", destination="aad-admin", payload=review, workspace_id=WORKSPACE
    )

    assert outcome.ok
    [card] = fake.cards("a:admin-chat")
    assert card["msteams"]["entities"] == [
        {"type": "mention", "text": "<at>Ann Lee</at>", "mentioned": {"id": "aad-ann", "name": "Ann Lee"}}
    ]
    assert fake.activities("a:admin-chat")[0]["summary"].startswith("Ann Lee")


RANK = {"rank": 2, "participants": 9, "points": 12, "shares": 3, "clicks": 4, "lang": "en"}


# ---------------------------------------------------------------------------------------------------------
# Teams' errors, in neutral terms


async def test_a_channel_the_bot_was_removed_from_is_unusable(
    fake: FakeTeams, notifier: TeamsNotifier
) -> None:
    fake.remove_bot(CHANNEL)

    outcome = await notifier.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )

    assert (outcome.ok, outcome.error, outcome.detail) == (
        False,
        CHANNEL_UNUSABLE,
        "403 BotNotInConversationRoster",
    )
    assert outcome.cause == NOT_A_MEMBER  # what the admins are told: add Relais to the channel
    assert outcome.permanent


async def test_a_person_who_blocked_the_bot_is_gone(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    fake.remove_bot("a:admin-chat", "ConversationBlockedByUser")

    outcome = await notifier.send(kind="rank", destination="aad-admin", payload=RANK, workspace_id=WORKSPACE)

    assert (outcome.error, outcome.detail) == (RECIPIENT_GONE, "403 ConversationBlockedByUser")


async def test_a_person_without_the_app_is_gone(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    outcome = await notifier.send(kind="rank", destination="aad-bob", payload=RANK, workspace_id=WORKSPACE)

    assert outcome.error == RECIPIENT_GONE
    assert fake.calls_to("send") == []


async def test_a_conversation_that_is_gone(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    del fake.conversations[CHANNEL]
    del fake.conversations["a:admin-chat"]

    channel = await notifier.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )
    member = await notifier.send(kind="rank", destination="aad-admin", payload=RANK, workspace_id=WORKSPACE)

    assert (channel.error, channel.detail, channel.cause) == (
        CHANNEL_UNUSABLE,
        "404 ConversationNotFound",
        CHANNEL_GONE,
    )
    assert (member.error, member.detail, member.cause) == (RECIPIENT_GONE, "404 ConversationNotFound", None)


async def test_an_edit_of_a_message_that_is_gone_is_refused(notifier: TeamsNotifier) -> None:
    outcome = await notifier.send(
        kind="post_update",
        destination=CHANNEL,
        payload=post_payload(message_id="1764200099999"),
        workspace_id=WORKSPACE,
    )

    assert (outcome.error, outcome.detail) == (REFUSED, "404 ActivityNotFoundInConversation")


async def test_rate_limited_with_teams_retry_after(
    fake: FakeTeams, conversations: StoredConversations
) -> None:
    fake.fail_next("send", status=429, retry_after=7)
    notifier = TeamsNotifier(conversations, Connector(FixedTokens()))

    outcome = await notifier.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )

    # Teams' own wait; the outbox adds the jitter (`test_many_messages_teams_throttled_together_…`).
    assert (outcome.error, outcome.detail, outcome.retry_after) == (RATE_LIMITED, "429 Throttled", 7)
    assert not outcome.permanent


@pytest.mark.parametrize("status", [412, 500, 502, 503, 504])
async def test_teams_outages_are_transient(status: int, fake: FakeTeams, notifier: TeamsNotifier) -> None:
    fake.fail_next("send", status=status, retry_after=3)

    outcome = await notifier.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )

    assert outcome.error == TRANSIENT
    assert outcome.retry_after == (3.0 if status == 503 else None)
    assert fake.activities(CHANNEL) == []


async def test_a_message_teams_finds_too_big(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    fake.fail_next("send", status=413)

    outcome = await notifier.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )

    assert (outcome.error, outcome.detail) == (TOO_BIG, "413 MessageSizeTooBig")
    assert outcome.permanent


async def test_a_message_too_big_to_fit_is_not_sent(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    huge = PostCard(
        7, POST.url, POST.title, None, "https://example.com/i.png?" + "x" * 60_000, None, ("x",), "published"
    )

    outcome = await notifier.send(
        kind="post", destination=CHANNEL, payload=post_payload(huge), workspace_id=WORKSPACE
    )

    assert outcome.error == TOO_BIG
    assert fake.calls == []


async def test_refused_credentials_keep_messages_waiting(
    fake: FakeTeams, conversations: StoredConversations
) -> None:
    wrong = TeamsNotifier(conversations, Connector(FixedTokens("another-token")))
    refused = TeamsNotifier(
        conversations,
        Connector(FailingTokens(ValueError("Failed to acquire token: {'error': 'invalid_client'}"))),
    )

    by_teams = await wrong.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )
    by_entra = await refused.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )

    assert (by_teams.error, by_teams.retry_after) == (TOKEN_REVOKED, 3600)
    assert by_teams.remedy is not None
    assert "MICROSOFT_APP_PASSWORD" in by_teams.remedy
    assert (by_entra.error, by_entra.retry_after) == (TOKEN_REVOKED, 3600)
    assert not by_teams.permanent
    assert fake.activities(CHANNEL) == []


async def test_no_answer_is_transient(
    conversations: StoredConversations, sessions: async_sessionmaker[AsyncSession]
) -> None:
    unreachable = TeamsNotifier(
        conversations, Connector(FailingTokens(ConnectionError("login.microsoftonline.com")))
    )
    async with FakeTeams(token=TOKEN) as gone:
        service_url = gone.service_url  # then the server stops: nothing answers there
    channel = await stored(sessions, CHANNEL)
    assert channel is not None
    gone_channel = {
        **channel,
        "serviceUrl": service_url,
        "conversation": {"id": "19:x@thread.tacv2", "conversationType": "channel", "tenantId": TENANT},
    }
    await conversations.remember(WORKSPACE, "19:x@thread.tacv2", gone_channel)
    down = TeamsNotifier(conversations, Connector(FixedTokens()))

    no_token = await unreachable.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )
    no_server = await down.send(
        kind="post", destination="19:x@thread.tacv2", payload=post_payload(), workspace_id=WORKSPACE
    )

    assert no_token.error == TRANSIENT
    assert (no_server.error, no_server.detail) == (TRANSIENT, "ClientConnectorError")


async def test_a_destination_without_a_reference_is_refused(fake: FakeTeams, notifier: TeamsNotifier) -> None:
    outcome = await notifier.send(kind="rank", destination="aad-nobody", payload=RANK, workspace_id=WORKSPACE)

    assert (outcome.error, outcome.detail) == (REFUSED, "no conversation reference")
    assert fake.calls == []


# ---------------------------------------------------------------------------------------------------------
# Teams' limits


async def test_the_pace_keeps_under_teams_limits(
    fake: FakeTeams, clock: Clock, notifier: TeamsNotifier, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """As fast as the outbox lets it (a slot per the notifier's rate policy, the clock moved to the next
    free slot each time), 70 messages to one channel: Teams never says 429 (7 a second, 8 in 2 s, 60 in
    30 s); and a whole hour at that pace stays within 1,800."""
    sent = 0
    while sent < 70:
        now = datetime.fromtimestamp(clock.now, tz=UTC)
        wait = await take_slot(
            sessions, workspace_id=WORKSPACE, destination=CHANNEL, now=now, policy=notifier.rate
        )
        if wait is not None:
            clock.now = wait.timestamp()
            continue
        outcome = await notifier.send(kind="rank", destination=CHANNEL, payload=RANK, workspace_id=WORKSPACE)
        assert outcome.ok, outcome
        sent += 1

    assert fake.limited == 0
    assert len(fake.activities(CHANNEL)) == 70
    interval = TEAMS_RATE.interval.total_seconds()
    assert TEAMS_RATE.burst + 3600 / interval <= 1800


async def test_the_tenant_pace_waits_past_fifty_a_second() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pacer = TenantPacer(3, clock=lambda: now[0], sleep=sleep)
    for at in (0.0, 0.1, 0.2, 0.3):
        now[0] = max(now[0], at)
        await pacer.wait(1)
    await pacer.wait(2)  # another workspace (tenant) has its own count

    assert waits == [pytest.approx(0.7)]


async def test_two_drainers_together_keep_under_the_tenant_limit(
    fake: FakeTeams,
    clock: Clock,
    conversations: StoredConversations,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The web process's sender and `relais clock` (or two web processes) drain one tenant's big round at
    the same time, each with its own notifier and the same database: 40 channel posts, and 20 people's
    first messages (each opens the person's 1:1 chat first: two requests). Together they never go over
    Teams' 50 requests a second per app per tenant, which the fake enforces (429) on the same clock: at
    most 45 in any second, counted from the time of each request the fake received; each message goes
    once. (Each process pacing itself alone, as before, let the two make 90 requests in the first second.)
    """
    clock.now = START.timestamp()
    stamps: list[float] = []

    def stamped() -> float:
        stamps.append(clock.now)
        return clock.now

    fake.clock = stamped  # the fake reads its clock once for each request it counts

    async def sleep(seconds: float) -> None:
        """Real time passing while a process sleeps: the other runs meanwhile."""
        until = clock.now + seconds
        await asyncio.sleep(0)
        clock.now = max(clock.now, until)

    channels = [f"19:c{i:02d}@thread.tacv2" for i in range(40)]
    people = [f"p{i:02d}" for i in range(20)]
    async with sessions() as session:
        for channel in channels:
            fake.add_conversation(channel)
            await stored_conversations.remember(
                session, workspace_id=WORKSPACE, key=channel, reference=reference(fake, channel), now=START
            )
        for person in people:
            fake.add_member(f"29:{person}")  # known from the team only
            known = reference(fake, CHANNEL, user=person)
            await stored_conversations.remember(
                session, workspace_id=WORKSPACE, key=f"aad-{person}", reference=known, now=START
            )
        for destination in [*channels, *(f"aad-{person}" for person in people)]:
            await outbox.enqueue(
                session, workspace_id=WORKSPACE, kind="rank", destination=destination, payload=RANK, now=START
            )
        await session.commit()

    def process() -> outbox.Notifiers:
        pace = WorkspacePace(sessions, TEAMS_TENANT_RATE, clock=clock, sleep=sleep)
        return {"teams": TeamsNotifier(conversations, Connector(FixedTokens()), pace=pace)}

    def now() -> datetime:
        return datetime.fromtimestamp(clock.now, tz=UTC)

    sent = await asyncio.gather(
        outbox.drain(sessions, notifiers=process(), now=now),
        outbox.drain(sessions, notifiers=process(), now=now),
    )

    assert fake.limited == 0
    assert sum(sent) == 60
    assert len(stamps) == 80 == len(fake.calls)  # 40 posts, 20 chats opened, 20 messages in them
    busiest = max(sum(at - 1.0 < other <= at for other in stamps) for at in stamps)
    assert busiest <= 45
    assert clock.now - START.timestamp() >= (80 - 45) / 40  # paced, not merely lucky
    assert all(len(fake.activities(channel)) == 1 for channel in channels)
    for person in people:
        chat = fake.personal_conversation(f"29:{person}")
        assert chat is not None
        assert len(chat.activities) == 1
    async with sessions() as session:
        assert set(await session.scalars(select(OutboxMessage.state))) == {OutboxState.SENT}


# ---------------------------------------------------------------------------------------------------------
# Teams' outages: retried after a backoff with jitter


async def test_teams_outages_come_back_after_a_jittered_backoff_spread_out(
    fake: FakeTeams, notifier: TeamsNotifier, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Six posts to six channels meet Teams' outage at once: 412, 502, 503, 504 and 503 without
    Retry-After, and a 503 that asks for 20 s. The first five wait the outbox's first backoff (5 s)
    stretched by their own draw of the jitter, so they come back spread over 5 to 6.25 s, not all at the
    same instant; the sixth waits at least the 20 s Teams asked for. Each is then sent once."""
    channels = [f"19:c{i}@thread.tacv2" for i in range(6)]
    async with sessions() as session:
        await members.ensure_workspace(session, platform="teams", external_id=TENANT, now=START)
        for channel in channels:
            fake.add_conversation(channel)
            await stored_conversations.remember(
                session, workspace_id=WORKSPACE, key=channel, reference=reference(fake, channel), now=START
            )
            await outbox.enqueue(
                session, workspace_id=WORKSPACE, kind="rank", destination=channel, payload=RANK, now=START
            )
        await session.commit()
    for status in (412, 502, 503, 504, 503):
        fake.fail_next("send", status=status, retry_after=None)
    fake.fail_next("send", status=503, retry_after=20)
    draws = iter([0.0, 0.2, 0.4, 0.6, 0.8, 0.5])

    async def drain(at: float) -> int:
        moment = START + timedelta(seconds=at)
        return await outbox.drain(
            sessions, notifiers={"teams": notifier}, now=lambda: moment, jitter=lambda: next(draws)
        )

    assert await drain(0) == 0

    async with sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [(row.state, row.attempts) for row in rows] == [(OutboxState.PENDING, 1)] * 6
    assert [row.last_error for row in rows] == [
        "412 PreconditionFailed",
        "502 ServiceError",
        "503 ServiceUnavailable",
        "504 GatewayTimeout",
        "503 ServiceUnavailable",
        "503 ServiceUnavailable",
    ]
    waits = [(row.next_attempt_at.replace(tzinfo=UTC) - START).total_seconds() for row in rows]
    assert waits == [5.0, 5.25, 5.5, 5.75, 6.0, 22.5]
    assert await drain(5.3) == 2
    assert await drain(6.0) == 3
    assert await drain(22.4) == 0
    assert await drain(22.5) == 1
    assert [len(fake.activities(channel)) for channel in channels] == [1] * 6
    assert len(fake.calls_to("send")) == 12


# ---------------------------------------------------------------------------------------------------------
# anonymous mode (a local client such as the Agents Playground: no credentials)


async def test_anonymous_mode_sends_only_to_this_machine(
    fake: FakeTeams, conversations: StoredConversations, sessions: async_sessionmaker[AsyncSession]
) -> None:
    channel = await stored(sessions, CHANNEL)
    assert channel is not None
    await conversations.remember(
        WORKSPACE, "19:far@thread.tacv2", {**channel, "serviceUrl": "https://smba.trafficmanager.net/teams/"}
    )
    notifier = TeamsNotifier.on_core(sessions, FixedTokens(), loopback_only=True)

    far = await notifier.send(
        kind="post", destination="19:far@thread.tacv2", payload=post_payload(), workspace_id=WORKSPACE
    )
    near = await notifier.send(
        kind="post", destination=CHANNEL, payload=post_payload(), workspace_id=WORKSPACE
    )

    assert (far.error, far.detail) == (REFUSED, "serviceUrl not on this machine (anonymous mode)")
    assert near.ok
    assert [call.operation for call in fake.calls] == ["send"]


# ---------------------------------------------------------------------------------------------------------
# through the outbox, as the clock sends


async def test_the_outbox_sends_through_teams_and_the_core_reacts(
    fake: FakeTeams, notifier: TeamsNotifier, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The drain hands each row to the Teams notifier: a post reaches the channel and becomes a delivery
    (its card can be updated), a rank reaches the admin's chat, a person without the app is marked
    inactive, and a message Teams holds back (429) waits for its Retry-After."""
    async with sessions() as session:
        workspace = await members.ensure_workspace(session, platform="teams", external_id=TENANT, now=START)
        bob = await members.ensure_member(session, workspace=workspace, external_id="aad-bob", now=START)
        session.add(
            Post(
                id=POST.id,
                workspace_id=workspace.id,
                url=POST.url,
                title=POST.title,
                networks=list(POST.networks),
                state=PostState.PUBLISHED,
                created_at=START,
                updated_at=START,
            )
        )
        rows = [("post", CHANNEL, post_payload()), ("rank", "aad-admin", RANK), ("rank", "aad-bob", RANK)]
        for kind, destination, payload in rows:
            await outbox.enqueue(
                session,
                workspace_id=WORKSPACE,
                kind=kind,
                destination=destination,
                payload=payload,
                now=START,
            )
        await session.commit()
    fake.add_conversation("19:busy@thread.tacv2")
    channel = await stored(sessions, CHANNEL)
    assert channel is not None
    busy = {
        **channel,
        "conversation": {"id": "19:busy@thread.tacv2", "conversationType": "channel", "tenantId": TENANT},
    }
    async with sessions() as session:
        await stored_conversations.remember(
            session, workspace_id=WORKSPACE, key="19:busy@thread.tacv2", reference=busy, now=START
        )
        await outbox.enqueue(
            session,
            workspace_id=WORKSPACE,
            kind="post",
            destination="19:busy@thread.tacv2",
            payload=post_payload(),
            now=START,
        )
        await session.commit()
    fake.fail_next("send", status=429, retry_after=30)  # the first send: the post to the channel
    hook = recipients.after_send(admins=frozenset())

    half = lambda: 0.5  # noqa: E731  # the jitter's draw
    await outbox.drain(
        sessions, notifiers={"teams": notifier}, now=lambda: START, after_send=hook, jitter=half
    )
    await outbox.drain(
        sessions, notifiers={"teams": notifier}, now=lambda: START, after_send=hook, jitter=half
    )

    async with sessions() as session:
        states = {
            (row.kind, row.destination): (row.state, row.last_error, row.next_attempt_at.replace(tzinfo=UTC))
            for row in await session.scalars(select(OutboxMessage))
        }
        gone = await session.get_one(Member, bob.id)
        deliveries = list(await session.scalars(select(Delivery)))
    assert states[("post", CHANNEL)][:2] == (OutboxState.PENDING, "429 Throttled")
    assert states[("post", CHANNEL)][2] == START + timedelta(seconds=30 * (1 + 0.25 * 0.5))
    assert states[("rank", "aad-admin")][0] == OutboxState.SENT
    assert states[("rank", "aad-bob")][0] == OutboxState.FAILED
    assert states[("post", "19:busy@thread.tacv2")][0] == OutboxState.SENT
    assert gone.active is False
    [delivery] = deliveries
    assert delivery.destination == "19:busy@thread.tacv2"
    assert delivery.message_id == fake.activities("19:busy@thread.tacv2")[0]["id"]
    assert fake.activities(CHANNEL) == []
    assert len(fake.cards("a:admin-chat")) == 1


async def test_a_reference_missing_what_a_chat_needs_is_refused(
    fake: FakeTeams, notifier: TeamsNotifier, conversations: StoredConversations
) -> None:
    without_tenant = reference(fake, CHANNEL, user="ann")
    del without_tenant["conversation"]["tenantId"]
    await conversations.remember(WORKSPACE, "aad-ann", without_tenant)

    outcome = await notifier.send(kind="rank", destination="aad-ann", payload=RANK, workspace_id=WORKSPACE)

    assert (outcome.error, outcome.detail) == (REFUSED, "incomplete conversation reference")
    assert fake.calls == []


async def test_the_admins_are_told_why_a_teams_channel_failed_in_words_for_teams(
    fake: FakeTeams, notifier: TeamsNotifier, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The bot was removed from the team: the admin who queued the post hears that Relais is not a
    member of the channel and what to do, and so do the admins for any other message there; no Slack
    command, and Teams' own error only where the texts name it."""
    async with sessions() as session:
        workspace = await members.ensure_workspace(session, platform="teams", external_id=TENANT, now=START)
        admin = await members.ensure_member(session, workspace=workspace, external_id="aad-admin", now=START)
        admin.is_admin = True
        session.add(
            Post(
                id=POST.id,
                workspace_id=workspace.id,
                url=POST.url,
                title=POST.title,
                networks=list(POST.networks),
                state=PostState.PUBLISHED,
                created_by_id=admin.id,
                created_at=START,
                updated_at=START,
            )
        )
        for kind, payload in (("post", post_payload()), ("social_connected", {"network": "x", "lang": "en"})):
            await outbox.enqueue(
                session, workspace_id=WORKSPACE, kind=kind, destination=CHANNEL, payload=payload, now=START
            )
        await session.commit()
    fake.remove_bot(CHANNEL)
    hook = recipients.after_send(admins=frozenset())

    for _ in range(2):  # the channel's refusals, then what the admin is told
        await outbox.drain(sessions, notifiers={"teams": notifier}, now=lambda: START, after_send=hook)

    async with sessions() as session:
        told = {
            row.kind: (row.destination, row.state, row.payload)
            for row in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind.in_(["post_refused", "admin_alert"]))
            )
        }
    assert {kind: found[:2] for kind, found in told.items()} == {
        "post_refused": ("aad-admin", OutboxState.SENT),
        "admin_alert": ("aad-admin", OutboxState.SENT),
    }
    assert told["admin_alert"][2]["cause"] == "not_a_member"
    shown = [activity["summary"].replace("`", "") for activity in fake.activities("a:admin-chat")]
    assert sorted(shown) == [  # the channel by the name Teams gave it, never its id
        "I could not post in #News: I am not a member of it. Add me to the channel, or choose another "
        "one with channel or in the next post.",
        "Post #7 was not published in #News: I am not a member of the channel. Add me to it and "
        "queue the post again, or queue it into another channel.",
    ]
