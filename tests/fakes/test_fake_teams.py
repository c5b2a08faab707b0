"""The fake Bot Connector, driven through the Agents SDK's own `ConnectorClient` (what Relais uses), and
through plain HTTP where the SDK hides the wire (statuses, headers, bodies)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from microsoft_agents.activity import Activity, Attachment, ChannelAccount, ConversationParameters
from microsoft_agents.hosting.core import ConnectorClient

from bot.demo.fake_teams import ADAPTIVE_CARD, MESSAGE_MAX_BYTES, FakeTeams, message_size

TOKEN = "fake-outbound-token"
CHANNEL = "19:news@thread.tacv2"
ANN, BOB = "29:ann", "29:bob"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeTeams]:
    async with FakeTeams(token=TOKEN, clock=clock) as server:
        server.add_member(ANN, aad_object_id="aad-ann", name="Ann Lee", email="ann@acme.test")
        server.add_member(BOB, aad_object_id="aad-bob", name="Bob Stone", installed=False)
        server.add_conversation(CHANNEL)
        yield server


@pytest.fixture
async def client(fake: FakeTeams) -> AsyncIterator[ConnectorClient]:
    connector = ConnectorClient(fake.service_url, TOKEN)
    yield connector
    await connector.close()


@pytest.fixture
async def http(fake: FakeTeams) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=fake.service_url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as session:
        yield session


def card(text: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text}], **extra}


def message(content: dict[str, Any] | None = None) -> Activity:
    return Activity(
        type="message", attachments=[Attachment(content_type=ADAPTIVE_CARD, content=content or card())]
    )


def one_to_one(member: str, tenant: str = "tenant-1") -> ConversationParameters:
    return ConversationParameters(
        is_group=False,
        agent=ChannelAccount(id="28:relais-app-id"),
        members=[ChannelAccount(id=member)],
        tenant_id=tenant,
        channel_data={"tenant": {"id": tenant}},
    )


async def raised(call: Any) -> aiohttp.ClientResponseError:
    with pytest.raises(aiohttp.ClientResponseError) as info:
        await call
    return info.value


def error_code(error: aiohttp.ClientResponseError) -> str:
    return str(json.loads(error.message)["error"]["code"])


# ---------------------------------------------------------------------------------------------------------
# sending, replying, updating


async def test_a_card_sent_to_a_channel_is_stored_with_its_id(
    fake: FakeTeams, client: ConnectorClient
) -> None:
    sent = await client.conversations.send_to_conversation(CHANNEL, message(card("News")))

    assert sent.id is not None
    assert sent.id.isdigit()
    assert fake.cards(CHANNEL) == [card("News")]
    [call] = fake.calls
    assert (call.operation, call.http_method, call.status) == ("send", "POST", 201)
    assert call.path == f"v3/conversations/{CHANNEL}/activities"
    assert call.token == TOKEN
    assert fake.violations == []


async def test_a_reply_lands_in_the_posts_thread(fake: FakeTeams, client: ConnectorClient) -> None:
    root = await client.conversations.send_to_conversation(CHANNEL, message())
    assert root.id is not None

    reply = await client.conversations.reply_to_activity(CHANNEL, root.id, message(card("Reply")))

    [_, answer] = fake.activities(CHANNEL)
    assert answer["id"] == reply.id
    assert answer["replyToId"] == root.id
    assert fake.calls[-1].operation == "reply"


async def test_a_thread_id_reaches_its_channel(fake: FakeTeams, client: ConnectorClient) -> None:
    await client.conversations.send_to_conversation(f"{CHANNEL};messageid=1764200000001", message())

    assert len(fake.activities(CHANNEL)) == 1


async def test_an_update_replaces_the_card_in_place(fake: FakeTeams, client: ConnectorClient) -> None:
    sent = await client.conversations.send_to_conversation(CHANNEL, message(card("Before")))
    assert sent.id is not None

    updated = await client.conversations.update_activity(CHANNEL, sent.id, message(card("After")))

    assert updated.id == sent.id
    assert fake.cards(CHANNEL) == [card("After")]
    assert fake.activities(CHANNEL)[0]["id"] == sent.id
    assert fake.calls[-1].operation == "update"


async def test_updating_a_message_that_is_not_there_is_404(client: ConnectorClient) -> None:
    error = await raised(client.conversations.update_activity(CHANNEL, "1764200099999", message()))

    assert error.status == 404
    assert error_code(error) == "ActivityNotFoundInConversation"


async def test_a_deleted_message_is_gone(fake: FakeTeams, client: ConnectorClient) -> None:
    sent = await client.conversations.send_to_conversation(CHANNEL, message())
    assert sent.id is not None

    await client.conversations.delete_activity(CHANNEL, sent.id)

    assert fake.activities(CHANNEL) == []


async def test_an_empty_message_is_a_bad_argument(http: aiohttp.ClientSession) -> None:
    response = await http.post(f"v3/conversations/{CHANNEL}/activities", json={"type": "message"})

    assert response.status == 400
    assert (await response.json())["error"]["code"] == "BadArgument"


# ---------------------------------------------------------------------------------------------------------
# 1:1 conversations and members


async def test_a_personal_conversation_is_created_once_per_person(
    fake: FakeTeams, client: ConnectorClient
) -> None:
    created = await client.conversations.create_conversation(one_to_one(ANN))
    again = await client.conversations.create_conversation(one_to_one("aad-ann"))  # the Entra object id

    assert created.id == again.id
    conversation = fake.personal_conversation("aad-ann")
    assert conversation is not None
    assert conversation.id == created.id
    assert (conversation.conversation_type, conversation.members) == ("personal", [ANN])
    body = fake.calls_to("create_conversation")[0].body
    assert body["members"] == [{"id": ANN}]
    assert body["tenantId"] == "tenant-1"
    await client.conversations.send_to_conversation(created.id, message(card("Hi Ann")))
    assert fake.cards(created.id) == [card("Hi Ann")]


async def test_no_conversation_with_someone_without_the_app_or_unknown(client: ConnectorClient) -> None:
    not_installed = await raised(client.conversations.create_conversation(one_to_one(BOB)))
    unknown = await raised(client.conversations.create_conversation(one_to_one("29:nobody")))
    other_tenant = await raised(client.conversations.create_conversation(one_to_one(ANN, "tenant-2")))

    assert (not_installed.status, unknown.status, other_tenant.status) == (403, 404, 404)


async def test_the_members_of_a_conversation_are_listed(fake: FakeTeams, client: ConnectorClient) -> None:
    ann = await client.conversations.get_conversation_member(CHANNEL, ANN)
    everyone = await client.conversations.get_conversation_members(CHANNEL)

    assert (ann.id, ann.name, ann.aad_object_id) == (ANN, "Ann Lee", "aad-ann")
    assert [member.id for member in everyone] == [ANN, BOB]


# ---------------------------------------------------------------------------------------------------------
# authorization and Teams' errors


async def test_a_request_without_the_bearer_token_is_401(fake: FakeTeams) -> None:
    anonymous = ConnectorClient(fake.service_url, "")  # the SDK sends no header for an empty token
    wrong = ConnectorClient(fake.service_url, "another-token")
    try:
        missing = await raised(anonymous.conversations.send_to_conversation(CHANNEL, message()))
        refused = await raised(wrong.conversations.send_to_conversation(CHANNEL, message()))
    finally:
        await anonymous.close()
        await wrong.close()

    assert (missing.status, refused.status) == (401, 401)
    assert fake.activities(CHANNEL) == []


async def test_an_anonymous_connector_needs_no_token() -> None:
    async with FakeTeams(anonymous=True) as fake:
        fake.add_conversation(CHANNEL)
        client = ConnectorClient(fake.service_url, "")
        try:
            await client.conversations.send_to_conversation(CHANNEL, message())
        finally:
            await client.close()

        assert fake.calls[0].token is None
        assert len(fake.activities(CHANNEL)) == 1


async def test_a_bot_removed_from_a_conversation_gets_403(fake: FakeTeams, client: ConnectorClient) -> None:
    fake.remove_bot(CHANNEL)

    error = await raised(client.conversations.send_to_conversation(CHANNEL, message()))

    assert error.status == 403
    assert error_code(error) == "BotNotInConversationRoster"


async def test_a_person_who_blocked_the_bot_refuses_their_conversation(
    fake: FakeTeams, client: ConnectorClient
) -> None:
    created = await client.conversations.create_conversation(one_to_one(ANN))
    fake.remove_bot(created.id, "ConversationBlockedByUser")

    error = await raised(client.conversations.send_to_conversation(created.id, message()))
    again = await raised(client.conversations.create_conversation(one_to_one(ANN)))

    assert error_code(error) == "ConversationBlockedByUser"
    assert (error.status, again.status) == (403, 403)


async def test_an_unknown_conversation_is_404(client: ConnectorClient) -> None:
    error = await raised(client.conversations.send_to_conversation("19:gone@thread.tacv2", message()))

    assert error.status == 404
    assert error_code(error) == "ConversationNotFound"


async def test_a_message_over_the_size_limit_is_413(fake: FakeTeams, http: aiohttp.ClientSession) -> None:
    base = message(card("")).model_dump(by_alias=True, exclude_unset=True, mode="json")
    room = (MESSAGE_MAX_BYTES - message_size(base)) // 2  # UTF-16: two bytes per character here

    fits = json.loads(json.dumps(base).replace('"text": ""', f'"text": "{"x" * room}"'))
    too_big = json.loads(json.dumps(base).replace('"text": ""', f'"text": "{"x" * (room + 1)}"'))
    assert message_size(fits) == MESSAGE_MAX_BYTES == 100 * 1024  # Teams: "about 100 KB", in UTF-16
    accepted = await http.post(f"v3/conversations/{CHANNEL}/activities", json=fits)
    refused = await http.post(f"v3/conversations/{CHANNEL}/activities", json=too_big)

    assert accepted.status == 201
    assert refused.status == 413
    assert (await refused.json())["error"]["code"] == "MessageSizeTooBig"
    assert len(fake.activities(CHANNEL)) == 1


@pytest.mark.parametrize("status", [412, 429, 502, 503, 504])
async def test_failures_on_demand(status: int, fake: FakeTeams, client: ConnectorClient) -> None:
    fake.fail_next("send", status=status, retry_after=7)

    error = await raised(client.conversations.send_to_conversation(CHANNEL, message()))
    await client.conversations.send_to_conversation(CHANNEL, message())  # only the next one failed

    assert error.status == status
    assert error.headers is not None
    assert error.headers.get("Retry-After") == ("7" if status in (429, 503) else None)
    assert len(fake.activities(CHANNEL)) == 1


# ---------------------------------------------------------------------------------------------------------
# Teams' rate limits


async def send_at(http: aiohttp.ClientSession, clock: Clock, at: float, conversation: str = CHANNEL) -> int:
    clock.now = 1000.0 + at
    response = await http.post(
        f"v3/conversations/{conversation}/activities", json={"type": "message", "text": "hi"}
    )
    if response.status == 429:
        assert (await response.json())["error"]["code"] == "Throttled"
        return -int(response.headers["Retry-After"])
    return response.status


async def test_seven_messages_a_second_in_a_conversation(
    fake: FakeTeams, clock: Clock, http: aiohttp.ClientSession
) -> None:
    statuses = [await send_at(http, clock, 0.1 * n) for n in range(8)]

    assert statuses == [201] * 7 + [-1]
    assert fake.limited == 1
    assert await send_at(http, clock, 1.01) == 201  # the first left the last second


async def test_eight_messages_in_two_seconds(clock: Clock, http: aiohttp.ClientSession) -> None:
    statuses = [await send_at(http, clock, at) for at in (0, 0, 0, 0, 0, 0, 0, 1.0, 1.5)]

    assert statuses == [201] * 8 + [-1]
    assert await send_at(http, clock, 2.0) == 201


async def test_sixty_messages_in_thirty_seconds(clock: Clock, http: aiohttp.ClientSession) -> None:
    statuses = [await send_at(http, clock, 0.3 * n) for n in range(61)]

    assert statuses[:60] == [201] * 60
    assert statuses[60] == -12  # the first one leaves the window at 30 s, 12 s after 18 s


async def test_eighteen_hundred_messages_an_hour(clock: Clock, http: aiohttp.ClientSession) -> None:
    statuses = [await send_at(http, clock, 1.1 * n) for n in range(1801)]

    assert statuses[:1800] == [201] * 1800
    assert statuses[1800] == -(3600 - 1980)


async def test_fifty_requests_a_second_per_tenant(
    fake: FakeTeams, clock: Clock, http: aiohttp.ClientSession
) -> None:
    for n in range(51):
        fake.add_conversation(f"19:c{n}@thread.tacv2")

    statuses = [await send_at(http, clock, 0.01 * n, f"19:c{n}@thread.tacv2") for n in range(51)]

    assert statuses == [201] * 50 + [-1]


async def test_refused_messages_do_not_count(clock: Clock, http: aiohttp.ClientSession) -> None:
    for _ in range(7):
        assert await send_at(http, clock, 0) == 201
    for _ in range(5):
        assert await send_at(http, clock, 0.5) == -1

    assert await send_at(http, clock, 1.0) == 201


async def test_random_refusals_are_429s_with_retry_after_and_repeat_with_the_seed(
    fake: FakeTeams, clock: Clock, http: aiohttp.ClientSession
) -> None:
    conversations = [f"19:r{n}@thread.tacv2" for n in range(200)]
    for conversation in conversations:
        fake.add_conversation(conversation)

    async def statuses(seed: int) -> list[int]:
        fake.reset()
        fake.random_rate_limits(0.1, seed=seed, retry_after=3)
        # 200 conversations, 4 seconds apart: no documented limit refuses any of them.
        return [await send_at(http, clock, 4.0 * n, c) for n, c in enumerate(conversations)]

    first = await statuses(seed=7)

    assert first.count(-3) == len(fake.random_refusals)
    assert 5 <= first.count(-3) <= 40  # about 10 %
    assert set(first) == {201, -3}
    assert fake.limited == 0  # not counted as the documented limits' refusals
    assert await statuses(seed=7) == first
    fake.random_rate_limits(0)
    assert await send_at(http, clock, 9000.0) == 201


async def test_limits_can_be_turned_off() -> None:
    async with FakeTeams(token=TOKEN, rate_limits=False, clock=lambda: 0.0) as fake:
        fake.add_conversation(CHANNEL)
        client = ConnectorClient(fake.service_url, TOKEN)
        try:
            for _ in range(20):
                await client.conversations.send_to_conversation(CHANNEL, message())
        finally:
            await client.close()

        assert len(fake.activities(CHANNEL)) == 20
        assert fake.limited == 0


# ---------------------------------------------------------------------------------------------------------
# what Teams would show badly


async def test_cards_teams_cannot_show_are_recorded(fake: FakeTeams, client: ConnectorClient) -> None:
    too_new = card(version="1.6")
    no_verb = card(actions=[{"type": "Action.Execute", "title": "Share", "data": {}}])

    await client.conversations.send_to_conversation(CHANNEL, message(too_new))
    await client.conversations.send_to_conversation(CHANNEL, message(no_verb))

    assert fake.violations == [
        "attachments[0]: version 1.6 is over Teams' 1.5",
        "attachments[0]: an Action.Execute without a verb",
    ]
