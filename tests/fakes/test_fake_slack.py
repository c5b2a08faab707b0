"""The fake Slack, driven only through the real slack_sdk clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.demo.fake_slack import FakeSlack

pytestmark = pytest.mark.asyncio

BOT_TOKEN = "xoxb-fake-bot"
APP_TOKEN = "xapp-fake-app"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as server:
        server.add_user(
            "U001", name="alice", real_name="Alice Martin", locale="fr-FR", email="alice@acme.test"
        )
        server.add_user("U002", name="bob", tz="America/New_York")
        server.add_user("U003", name="carol", deleted=True)
        server.add_channel("C001", "general", members=["U001", "U002"])
        server.add_channel("C002", "old-news", is_archived=True)
        server.add_channel("C003", "elsewhere", is_member=False)
        server.add_channel("G001", "secret", is_private=True, is_member=False)
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


# ---------------------------------------------------------------------------------------------------------
# auth


async def test_auth_test_answers_like_slack(fake: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.auth_test()

    assert response.data == {
        "ok": True,
        "url": "https://acme.slack.com/",
        "team": "Acme",
        "user": "relais",
        "team_id": "T0001",
        "user_id": "UBOT",
        "bot_id": "B0001",
        "is_enterprise_install": False,
    }
    assert "chat:write" in response.headers["X-OAuth-Scopes"].split(",")
    [call] = fake.calls
    assert (call.method, call.token) == ("auth.test", BOT_TOKEN)
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"


async def test_missing_or_wrong_token_is_refused_with_http_200(fake: FakeSlack) -> None:
    anonymous = AsyncWebClient(base_url=fake.api_url)
    error = await api_error(anonymous.auth_test())
    assert (error.response.status_code, error.response["error"]) == (200, "not_authed")

    wrong = AsyncWebClient(token="xoxb-nope", base_url=fake.api_url)
    error = await api_error(wrong.chat_postMessage(channel="C001", text="hi"))
    assert error.response["error"] == "invalid_auth"

    app_level = AsyncWebClient(token=APP_TOKEN, base_url=fake.api_url)
    error = await api_error(app_level.users_info(user="U001"))
    assert error.response["error"] == "not_allowed_token_type"
    assert fake.messages["C001"] == []


async def test_unknown_method(client: AsyncWebClient) -> None:
    error = await api_error(client.api_call("chat.frobnicate"))

    assert error.response.status_code == 200
    assert error.response["error"] == "unknown_method"


# ---------------------------------------------------------------------------------------------------------
# users and conversations


async def test_users_info_gives_the_locale_only_when_asked(fake: FakeSlack, client: AsyncWebClient) -> None:
    with_locale = await client.users_info(user="U001", include_locale=True)
    without = await client.users_info(user="U001")

    user = with_locale["user"]
    assert user["locale"] == "fr-FR"
    assert "locale" not in without["user"]
    assert user["id"] == "U001"
    assert user["team_id"] == "T0001"
    assert user["name"] == "alice"
    assert user["real_name"] == "Alice Martin"
    assert (user["tz"], user["tz_offset"], user["tz_label"]) == (
        "Europe/Paris",
        3600,
        "Central European Time",
    )
    assert (user["deleted"], user["is_admin"], user["is_owner"], user["is_bot"]) == (
        False,
        False,
        False,
        False,
    )
    assert user["profile"]["display_name"] == "alice"
    assert user["profile"]["real_name"] == "Alice Martin"
    assert user["profile"]["email"] == "alice@acme.test"
    assert user["profile"]["image_72"].startswith("https://")
    # the bool went over the wire as "1", in the query string of a GET
    assert fake.calls[0].params == {"user": "U001", "include_locale": "1"}
    assert fake.calls[0].http_method == "GET"


async def test_users_info_timezone_and_unknown_user(client: AsyncWebClient) -> None:
    bob = await client.users_info(user="U002")
    assert bob["user"]["tz_offset"] == -5 * 3600

    error = await api_error(client.users_info(user="U999"))
    assert error.response["error"] == "user_not_found"


async def test_users_list_paginates_with_cursors(client: AsyncWebClient) -> None:
    ids: list[str] = []
    pages = 0
    async for page in await client.users_list(limit=2):
        pages += 1
        ids += [member["id"] for member in page["members"]]

    # like Slack, the bot user and Slackbot are listed too
    assert ids == ["UBOT", "USLACKBOT", "U001", "U002", "U003"]
    assert pages == 3

    error = await api_error(client.users_list(cursor="not-a-cursor"))
    assert error.response["error"] == "invalid_cursor"


async def test_conversations_info_list_and_members(client: AsyncWebClient) -> None:
    info = await client.conversations_info(channel="C001", include_num_members=True)
    assert info["channel"]["name"] == "general"
    assert info["channel"]["is_member"] is True
    assert info["channel"]["num_members"] == 3  # alice, bob and the bot

    for channel in ("C999", "G001"):  # unknown, or private without the bot
        error = await api_error(client.conversations_info(channel=channel))
        assert error.response["error"] == "channel_not_found"

    names: list[str] = []
    async for page in await client.conversations_list(limit=2, exclude_archived=True):
        names += [channel["name"] for channel in page["channels"]]
    assert names == ["general", "elsewhere"]

    members = await client.conversations_members(channel="C001")
    assert members["members"] == ["U001", "U002", "UBOT"]


async def test_conversations_open_gives_a_dm_channel(fake: FakeSlack, client: AsyncWebClient) -> None:
    first = await client.conversations_open(users="U001")
    again = await client.conversations_open(users=["U001"])

    assert first["channel"]["id"].startswith("D")
    assert first["channel"]["id"] == again["channel"]["id"] == fake.dm_channel_id("U001")
    assert "already_open" not in first.data
    assert again["already_open"] is True

    error = await api_error(client.conversations_open(users="U003"))
    assert error.response["error"] == "user_disabled"


async def test_conversations_history_newest_first_with_metadata_only_when_asked(
    client: AsyncWebClient,
) -> None:
    metadata = {"event_type": "relais_outbox", "event_payload": {"mark": "abc"}}
    await client.chat_postMessage(channel="U001", text="first", metadata=metadata)
    await client.chat_postMessage(channel="U001", text="second")
    channel = (await client.conversations_open(users="U001"))["channel"]["id"]

    plain = await client.conversations_history(channel=channel)
    full = await client.conversations_history(channel=channel, include_all_metadata=True)
    latest = await client.conversations_history(channel=channel, limit=1)

    assert [m["text"] for m in plain["messages"]] == ["second", "first"]
    assert all("metadata" not in m for m in plain["messages"])
    assert [m.get("metadata") for m in full["messages"]] == [None, metadata]
    assert [m["text"] for m in latest["messages"]] == ["second"]
    assert latest["has_more"] is True
    error = await api_error(client.conversations_history(channel="C404"))
    assert error.response["error"] == "channel_not_found"


# ---------------------------------------------------------------------------------------------------------
# messages


async def test_post_message_to_a_channel_records_the_blocks(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hello*"}}]

    response = await client.chat_postMessage(channel="C001", text="Hello", blocks=blocks)

    assert response["channel"] == "C001"
    assert response["message"]["blocks"] == blocks
    assert response["message"]["user"] == "UBOT"
    [message] = fake.messages["C001"]
    assert (message["ts"], message["text"], message["blocks"]) == (response["ts"], "Hello", blocks)
    [call] = fake.calls_to("chat.postMessage")
    assert call.content_type == "application/json"
    assert call.params["blocks"] == blocks


async def test_post_message_timestamps_are_unique_and_increasing(client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(channel="C001", text="one")
    second = await client.chat_postMessage(channel="#general", text="two")

    assert first["ts"] == "1764200000.000100"
    assert float(second["ts"]) > float(first["ts"])
    assert second["channel"] == "C001"  # "#name" resolves to the id


async def test_post_message_to_a_user_lands_in_a_dm(fake: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.chat_postMessage(channel="U001", text="psst")

    assert response["channel"].startswith("D")
    assert response["channel"] == fake.dm_channel_id("U001")
    assert [m["text"] for m in fake.messages[response["channel"]]] == ["psst"]

    error = await api_error(client.chat_postMessage(channel="U003", text="gone?"))
    assert error.response["error"] == "user_not_found"


async def test_form_encoded_blocks_are_decoded(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.api_call(
        "chat.postMessage", data={"channel": "C001", "text": "hi", "blocks": '[{"type": "divider"}]'}
    )

    [call] = fake.calls
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == [{"type": "divider"}]
    assert fake.messages["C001"][0]["blocks"] == [{"type": "divider"}]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C001"}, "no_text"),
        ({"channel": "C999", "text": "hi"}, "channel_not_found"),
        ({"channel": "#nowhere", "text": "hi"}, "channel_not_found"),
        ({"channel": "G001", "text": "hi"}, "channel_not_found"),
        ({"channel": "C002", "text": "hi"}, "is_archived"),
        ({"channel": "C003", "text": "hi"}, "not_in_channel"),
        ({"channel": "C001", "text": "hi", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"channel": "C001", "text": "x" * 40001}, "msg_too_long"),
    ],
)
async def test_post_message_errors(
    fake: FakeSlack, client: AsyncWebClient, kwargs: dict[str, Any], error: str
) -> None:
    failure = await api_error(client.chat_postMessage(**kwargs))

    assert failure.response.status_code == 200
    assert failure.response["ok"] is False
    assert failure.response["error"] == error
    assert all(messages == [] for messages in fake.messages.values())


async def test_invalid_blocks_are_explained_as_slack_does(client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]

    error = await api_error(client.chat_postMessage(channel="C001", text="hi", blocks=blocks))

    assert error.response["error"] == "invalid_blocks"
    assert error.response["errors"] == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]


def _sections(count: int, length: int) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * length}} for _ in range(count)]


async def test_blocks_over_12000_characters_in_all_are_refused(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C001", text="hi", blocks=_sections(4, 3000))  # 12,000

    error = await api_error(client.chat_postMessage(channel="C001", text="hi", blocks=_sections(5, 2401)))
    assert error.response["error"] == "msg_blocks_too_long"
    error = await api_error(
        client.chat_update(channel="C001", ts=posted["ts"], text="hi", blocks=_sections(5, 2401))
    )
    assert error.response["error"] == "msg_blocks_too_long"
    assert [len(m["blocks"]) for m in fake.messages["C001"]] == [4]


async def test_a_second_primary_button_is_taken_but_recorded(fake: FakeSlack, client: AsyncWebClient) -> None:
    def actions(*styles: str | None) -> list[dict[str, Any]]:
        elements = [
            {"type": "button", "text": {"type": "plain_text", "text": f"b{i}"}, "action_id": f"a{i}"}
            | ({"style": style} if style else {})
            for i, style in enumerate(styles)
        ]
        return [{"type": "actions", "elements": elements}]

    await client.chat_postMessage(channel="C001", text="one", blocks=actions("primary", None, "danger"))
    assert fake.violations == []
    await client.chat_postMessage(channel="C001", text="two", blocks=actions("primary", "primary"))
    assert fake.violations == ["2 primary buttons in one actions block [json-pointer:/blocks/0]"]
    assert len(fake.messages["C001"]) == 2  # Slack only advises against it
    fake.violations.clear()  # this test made one on purpose


async def test_an_announcement_only_channel_refuses_the_bot(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C0ANN", "announcements", announcement_only=True)

    error = await api_error(client.chat_postMessage(channel="C0ANN", text="news"))

    assert error.response.status_code == 200
    assert error.response["error"] == "restricted_action"
    assert fake.messages["C0ANN"] == []
    await client.chat_postMessage(channel="C001", text="elsewhere is fine")


async def test_a_dead_bot_token_answers_account_inactive_to_every_call(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.deactivate_token()

    for call in (
        client.auth_test(),
        client.users_info(user="U001"),
        client.chat_postMessage(channel="C001", text="hi"),
    ):
        error = await api_error(call)
        assert (error.response.status_code, error.response["error"]) == (200, "account_inactive")
    assert fake.messages["C001"] == []
    opened = await AsyncWebClient(token=APP_TOKEN, base_url=fake.api_url).apps_connections_open(
        app_token=APP_TOKEN
    )
    assert opened["ok"] is True  # the app-level token is another credential


async def test_update_delete_and_permalink(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C001", text="draft", blocks=[{"type": "divider"}])
    ts = posted["ts"]

    updated = await client.chat_update(channel="C001", ts=ts, text="final")
    assert updated["text"] == "final"
    [message] = fake.messages["C001"]
    assert message["text"] == "final"
    assert message["blocks"] == [{"type": "divider"}]  # not given: kept, as on Slack

    link = await client.chat_getPermalink(channel="C001", message_ts=ts)
    assert link["permalink"] == f"https://acme.slack.com/archives/C001/p{ts.replace('.', '')}"

    error = await api_error(client.chat_update(channel="C001", ts="1.000000", text="?"))
    assert error.response["error"] == "message_not_found"

    deleted = await client.chat_delete(channel="C001", ts=ts)
    assert deleted["ts"] == ts
    assert fake.messages["C001"] == []
    error = await api_error(client.chat_delete(channel="C001", ts=ts))
    assert error.response["error"] == "message_not_found"


async def test_post_ephemeral(fake: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.chat_postEphemeral(channel="C001", user="U001", text="only you")

    assert response["message_ts"]
    [ephemeral] = fake.ephemerals
    assert (ephemeral["channel"], ephemeral["user"], ephemeral["text"]) == ("C001", "U001", "only you")
    assert fake.messages["C001"] == []

    fake.add_user("U004", name="dave")
    error = await api_error(client.chat_postEphemeral(channel="C001", user="U004", text="hi"))
    assert error.response["error"] == "user_not_in_channel"


async def test_reactions_add(fake: FakeSlack, client: AsyncWebClient) -> None:
    ts = fake.add_message("C001", "great news", user="U001")

    await client.reactions_add(channel="C001", timestamp=ts, name="tada")

    assert fake.messages["C001"][0]["reactions"] == [{"name": "tada", "users": ["UBOT"], "count": 1}]
    error = await api_error(client.reactions_add(channel="C001", timestamp=ts, name="tada"))
    assert error.response["error"] == "already_reacted"


# ---------------------------------------------------------------------------------------------------------
# injected failures


async def test_rate_limit_is_retried_by_the_handler(fake: FakeSlack, client: AsyncWebClient) -> None:
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    fake.fail_next("chat.postMessage", status=429, retry_after=0)

    response = await client.chat_postMessage(channel="C001", text="eventually")

    assert response["ok"] is True
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert [m["text"] for m in fake.messages["C001"]] == ["eventually"]


async def test_rate_limit_without_a_handler_raises(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("users.info", status=429, retry_after=7)

    error = await api_error(client.users_info(user="U001"))

    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    # the failure was used up
    assert (await client.users_info(user="U001"))["ok"] is True


async def test_server_error_raises_and_can_be_retried(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=500)
    error = await api_error(client.chat_postMessage(channel="C001", text="hi"))
    assert error.response.status_code == 500
    assert fake.messages["C001"] == []

    client.retry_handlers.append(
        AsyncServerErrorRetryHandler(
            max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0)
        )
    )
    fake.fail_next("chat.postMessage", status=503, times=2)
    response = await client.chat_postMessage(channel="C001", text="hi")
    assert response["ok"] is True
    assert len(fake.calls_to("chat.postMessage")) == 4


async def test_fail_next_with_an_error_answers_http_200(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=200, error="channel_not_found")

    error = await api_error(client.chat_postMessage(channel="C001", text="hi"))

    assert (error.response.status_code, error.response["error"]) == (200, "channel_not_found")


async def test_delay_and_reset(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.delay("auth.test", 0.3)
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.3

    fake.fail_next("auth.test", status=500)
    fake.reset()
    started = time.monotonic()
    await client.auth_test()  # neither delayed nor failing any more
    assert time.monotonic() - started < 0.3
    assert [call.method for call in fake.calls] == ["auth.test"]
    assert "U001" in fake.users


# ---------------------------------------------------------------------------------------------------------
# views


MODAL = {
    "type": "modal",
    "callback_id": "share",
    "title": {"type": "plain_text", "text": "Share"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Ready?"}}],
}


async def test_views_open_and_update(fake: FakeSlack, client: AsyncWebClient) -> None:
    opened = await client.views_open(trigger_id="123.456.abc", view=MODAL)

    view = opened["view"]
    assert view["id"].startswith("V")
    assert view["callback_id"] == "share"
    assert fake.views[view["id"]]["blocks"] == MODAL["blocks"]

    updated = await client.views_update(view_id=view["id"], view={**MODAL, "blocks": []}, hash=view["hash"])
    assert updated["view"]["id"] == view["id"]
    assert fake.views[view["id"]]["blocks"] == []

    error = await api_error(client.views_update(view_id=view["id"], view=MODAL, hash=view["hash"]))
    assert error.response["error"] == "hash_conflict"  # the hash changed with the update


async def test_views_open_trigger_errors(client: AsyncWebClient) -> None:
    error = await api_error(client.views_open(trigger_id="expired", view=MODAL))
    assert error.response["error"] == "expired_trigger_id"

    await client.views_open(trigger_id="once", view=MODAL)
    error = await api_error(client.views_open(trigger_id="once", view=MODAL))
    assert error.response["error"] == "exchanged_trigger_id"


async def test_views_open_validates_the_view(client: AsyncWebClient) -> None:
    too_many = {**MODAL, "blocks": [{"type": "divider"}] * 101}
    error = await api_error(client.views_open(trigger_id="t1", view=too_many))
    assert error.response["error"] == "invalid_arguments"
    assert error.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 101 items [json-pointer:/view/blocks]"
    ]

    long_title = {**MODAL, "title": {"type": "plain_text", "text": "A title far too long for Slack"}}
    error = await api_error(client.views_open(trigger_id="t2", view=long_title))
    assert error.response["error"] == "invalid_arguments"
    assert "/view/title/text" in error.response["response_metadata"]["messages"][0]


async def test_views_publish_stores_the_home_view(fake: FakeSlack, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "Hi"}}]}

    first = await client.views_publish(user_id="U001", view=home)
    second = await client.views_publish(user_id="U001", view={**home, "blocks": []})

    assert first["view"]["type"] == "home"
    assert second["view"]["id"] == first["view"]["id"]  # one Home view per user
    assert fake.home_views["U001"]["blocks"] == []
    assert "U002" not in fake.home_views

    error = await api_error(client.views_publish(user_id="U001", view=MODAL))
    assert error.response["error"] == "invalid_arguments"


# ---------------------------------------------------------------------------------------------------------
# response_url


async def test_response_url_records_what_is_posted(fake: FakeSlack) -> None:
    url = fake.response_url("cmd-1")

    response = await AsyncWebhookClient(url).send(text="Done!", response_type="ephemeral")

    assert response.status_code == 200
    assert response.body == '{"ok": true}'
    assert fake.responses == [{"url_id": "cmd-1", "text": "Done!", "response_type": "ephemeral"}]
    assert fake.responses_to("cmd-1") == fake.responses


async def test_response_url_replaces_and_deletes_the_original(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C001", text="Approve?")
    url = fake.response_url(channel="C001", message_ts=posted["ts"], user="U001")
    webhook = AsyncWebhookClient(url)

    await webhook.send(text="Approved", replace_original=True)
    assert [m["text"] for m in fake.messages["C001"]] == ["Approved"]

    await webhook.send(text="only for alice")
    assert fake.ephemerals[-1]["user"] == "U001"

    await webhook.send(delete_original=True)
    assert fake.messages["C001"] == []
    assert len(fake.responses) == 3


async def test_response_url_failure(fake: FakeSlack) -> None:
    fake.fail_next("response_url", status=404, error="expired_url")

    response = await AsyncWebhookClient(fake.response_url()).send(text="late")

    assert response.status_code == 404
    assert "expired_url" in response.body


async def test_response_url_checks_blocks_as_slack_does(fake: FakeSlack) -> None:
    webhook = AsyncWebhookClient(fake.response_url("cmd-2"))

    too_long = await webhook.send(text="hi", blocks=_sections(1, 3001))
    too_much = await webhook.send(text="hi", blocks=_sections(5, 2401))
    fine = await webhook.send(text="hi", blocks=_sections(1, 3000))

    assert (too_long.status_code, too_long.body) == (400, "invalid_blocks")
    assert (too_much.status_code, too_much.body) == (400, "msg_blocks_too_long")
    assert fine.status_code == 200


# ---------------------------------------------------------------------------------------------------------
# Socket Mode


MessageListener = Callable[[AsyncBaseSocketModeClient, dict[str, Any], str | None], Awaitable[None]]
RequestListener = Callable[[AsyncBaseSocketModeClient, SocketModeRequest], Awaitable[None]]


@asynccontextmanager
async def socket_mode_client(
    fake: FakeSlack,
    *,
    message_listeners: Sequence[MessageListener] = (),
    request_listeners: Sequence[RequestListener] = (),
) -> AsyncIterator[SocketModeClient]:
    """slack_sdk's aiohttp Socket Mode client, connected to the fake (its connect/close are untyped)."""
    socket_client = SocketModeClient(app_token=APP_TOKEN, web_client=AsyncWebClient(base_url=fake.api_url))
    socket_client.message_listeners.extend(message_listeners)
    socket_client.socket_mode_request_listeners.extend(request_listeners)
    try:
        await socket_client.connect()  # type: ignore[no-untyped-call]
        await fake.socket_wait_connected()
        yield socket_client
    finally:
        await socket_client.close()  # type: ignore[no-untyped-call]


async def test_socket_mode_client_connects_receives_and_acks(fake: FakeSlack) -> None:
    received: list[dict[str, Any]] = []
    requests: list[SocketModeRequest] = []

    async def on_message(
        _client: AsyncBaseSocketModeClient, message: dict[str, Any], _raw: str | None
    ) -> None:
        received.append(message)

    async def on_request(socket_client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        requests.append(request)
        await socket_client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    async with socket_mode_client(fake, message_listeners=[on_message], request_listeners=[on_request]):
        assert fake.socket_connected
        payload = {"type": "event_callback", "event": {"type": "app_mention", "text": "<@UBOT> hi"}}
        envelope_id = await fake.socket_send("events_api", payload)
        ack = await fake.socket_wait_ack(envelope_id)

    assert ack == {"envelope_id": envelope_id}
    assert [m["type"] for m in received] == ["hello", "events_api"]
    assert received[0]["num_connections"] == 1
    assert received[0]["connection_info"] == {"app_id": "A0001"}
    assert [(r.type, r.envelope_id, r.payload) for r in requests] == [("events_api", envelope_id, payload)]
    [connections_open] = fake.calls_to("apps.connections.open")
    assert connections_open.token == APP_TOKEN


async def test_socket_wait_ack_times_out_without_an_ack(fake: FakeSlack) -> None:
    async with socket_mode_client(fake):
        envelope_id = await fake.socket_send("slash_commands", {"command": "/relais"})
        with pytest.raises(TimeoutError):
            await fake.socket_wait_ack(envelope_id, timeout=0.2)


async def test_socket_disconnect_makes_the_client_reconnect(fake: FakeSlack) -> None:
    async with socket_mode_client(fake):
        await fake.socket_disconnect()
        for _ in range(200):
            if fake.socket_connections == 2 and fake.socket_connected:
                break
            await asyncio.sleep(0.01)
        assert fake.socket_connections == 2
        assert len(fake.calls_to("apps.connections.open")) == 2
        envelope_id = await fake.socket_send("interactive", {"type": "block_actions"})
        assert envelope_id not in fake.socket_acks  # nobody acks: no listener


async def test_apps_connections_open_needs_the_app_token(fake: FakeSlack, client: AsyncWebClient) -> None:
    error = await api_error(client.apps_connections_open(app_token=BOT_TOKEN))
    assert error.response["error"] == "not_allowed_token_type"

    opened = await client.apps_connections_open(app_token=APP_TOKEN)
    assert opened["url"].startswith(fake.base_url.replace("http://", "ws://") + "/socket?ticket=")


# ---------------------------------------------------------------------------------------------------------
# Sign in with Slack (OpenID Connect)

REDIRECT = "https://relais.example.test/login/slack/callback"


async def authorize(fake: FakeSlack, **overrides: str) -> httpx.Response:
    query = {
        "response_type": "code",
        "scope": "openid profile",
        "client_id": fake.client_id,
        "state": "the-state",
        "nonce": "the-nonce",
        "redirect_uri": REDIRECT,
        **overrides,
    }
    async with httpx.AsyncClient() as browser:
        return await browser.get(fake.authorize_url, params=query)


def code_of(answer: httpx.Response) -> str:
    assert answer.status_code == 302
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    query = dict(parse_qsl(back.query))
    assert query["state"] == "the-state"
    return query["code"]


async def test_sign_in_with_slack_code_token_and_user_info(fake: FakeSlack) -> None:
    fake.sign_in_as("U001")
    code = code_of(await authorize(fake))
    anonymous = AsyncWebClient(base_url=fake.api_url)
    tokens = await anonymous.openid_connect_token(
        client_id=fake.client_id, client_secret=fake.client_secret, code=code, redirect_uri=REDIRECT
    )
    assert tokens["token_type"] == "Bearer"
    claims = jwt.decode(tokens["id_token"], fake.client_secret, algorithms=["HS256"], audience=fake.client_id)
    assert (claims["iss"], claims["sub"], claims["nonce"]) == ("https://slack.com", "U001", "the-nonce")
    assert claims["https://slack.com/team_id"] == fake.team_id
    info = await AsyncWebClient(token=tokens["access_token"], base_url=fake.api_url).openid_connect_userInfo()
    assert info["sub"] == info["https://slack.com/user_id"] == "U001"
    assert (info["name"], info["locale"], info["https://slack.com/team_id"]) == (
        "Alice Martin",
        "fr-FR",
        "T0001",
    )
    assert "email" not in info  # not asked for

    # The code is single use.
    again = await api_error(
        anonymous.openid_connect_token(
            client_id=fake.client_id, client_secret=fake.client_secret, code=code, redirect_uri=REDIRECT
        )
    )
    assert again.response["error"] == "invalid_code"


async def test_sign_in_with_slack_refusals(fake: FakeSlack) -> None:
    anonymous = AsyncWebClient(base_url=fake.api_url)
    fake.sign_in_as(None)
    assert (await authorize(fake)).status_code == 401  # nobody signed in to Slack
    fake.sign_in_as("U001")
    assert (await authorize(fake, client_id="other")).status_code == 400
    assert (await authorize(fake, response_type="token")).status_code == 400
    assert (await authorize(fake, scope="profile")).status_code == 400
    for client_id, secret, redirect, error in (
        ("other", fake.client_secret, REDIRECT, "invalid_client_id"),
        (fake.client_id, "wrong", REDIRECT, "bad_client_secret"),
        (fake.client_id, fake.client_secret, REDIRECT + "x", "bad_redirect_uri"),
    ):
        code = code_of(await authorize(fake))
        refused = await api_error(
            anonymous.openid_connect_token(
                client_id=client_id, client_secret=secret, code=code, redirect_uri=redirect
            )
        )
        assert refused.response["error"] == error
    unknown = await api_error(
        AsyncWebClient(token="xoxp-unknown", base_url=fake.api_url).openid_connect_userInfo()
    )
    assert unknown.response["error"] == "invalid_auth"
    bot = await api_error(AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url).openid_connect_userInfo())
    assert bot.response["error"] == "invalid_auth"

    fake.sign_in_as("U001", consents=False)
    denied = await authorize(fake)
    assert dict(parse_qsl(urlsplit(denied.headers["location"]).query)) == {
        "state": "the-state",
        "error": "access_denied",
    }


async def test_sign_in_with_slack_pkce(fake: FakeSlack) -> None:
    """RFC 7636 Appendix B's verifier and S256 challenge: the code is redeemed only with that verifier."""
    verifier, challenge = (
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    )
    fake.sign_in_as("U001")
    assert (await authorize(fake, code_challenge=challenge, code_challenge_method="plain")).status_code == 400
    anonymous = AsyncWebClient(base_url=fake.api_url)
    credentials = {"client_id": fake.client_id, "client_secret": fake.client_secret, "redirect_uri": REDIRECT}
    for wrong in ({}, {"code_verifier": verifier[:-1] + "l"}):
        code = code_of(await authorize(fake, code_challenge=challenge, code_challenge_method="S256"))
        refused = await api_error(anonymous.openid_connect_token(code=code, **credentials, **wrong))
        assert refused.response["error"] == "invalid_code_verifier"
    code = code_of(await authorize(fake, code_challenge=challenge, code_challenge_method="S256"))
    tokens = await anonymous.openid_connect_token(code=code, code_verifier=verifier, **credentials)
    assert tokens["id_token"]


# ---------------------------------------------------------------------------------------------------------
# rate limits


class _Seconds:
    """A clock for the fake's limits, in seconds, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_workspace_cap_refuses_beyond_its_burst_until_tokens_come_back(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    seconds = _Seconds()
    fake.limit_workspace_rate(per_minute=120, burst=4, clock=seconds)  # 2 a second, whatever the channel
    for i in range(4):
        await client.chat_postMessage(channel=("C001", "U001", "U002", "C001")[i], text=f"m{i}")

    error = await api_error(client.chat_postMessage(channel="U002", text="one too many"))

    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert error.response.headers["Retry-After"] == "1"
    seconds.now += 0.5  # one token back
    await client.chat_postMessage(channel="U002", text="now")
    error = await api_error(client.chat_postMessage(channel="C001", text="again too soon"))
    assert error.response.status_code == 429
    assert fake.refused == {"workspace": 2}
    assert fake.limited == 2
    assert fake.accepted["chat.postMessage"] == 5
    # Other methods are not capped.
    assert (await client.users_info(user="U001"))["ok"] is True


async def test_the_workspace_cap_says_how_many_whole_seconds_to_wait(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    seconds = _Seconds()
    fake.limit_workspace_rate(per_minute=12, burst=1, clock=seconds)  # one every 5 s
    await client.chat_postMessage(channel="C001", text="first")
    seconds.now += 1.5

    error = await api_error(client.chat_postMessage(channel="C001", text="second"))

    assert error.response.headers["Retry-After"] == "4"  # 3.5 s rounded up
    seconds.now += 3.5
    assert (await client.chat_postMessage(channel="C001", text="second"))["ok"] is True


async def test_a_call_refused_by_its_channel_takes_no_workspace_token(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    seconds = _Seconds()
    fake.limit_channel_rate(burst=1, per_second=1.0, clock=seconds)
    fake.limit_workspace_rate(per_minute=60, burst=2, clock=seconds)
    await client.chat_postMessage(channel="C001", text="a")
    error = await api_error(client.chat_postMessage(channel="C001", text="b"))
    assert error.response.status_code == 429
    # The workspace still has its second token for another channel.
    assert (await client.chat_postMessage(channel="U001", text="c"))["ok"] is True
    assert fake.refused == {"channel": 1}
    assert [m["text"] for m in fake.messages["C001"]] == ["a"]


async def test_random_rate_limits_refuse_about_their_fraction_and_repeat_with_their_seed(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    async def refusals(seed: int) -> list[int]:
        fake.random_rate_limits(0.2, seed=seed, retry_after=3)
        refused, answers = [], set()
        for i in range(100):
            try:
                await client.chat_postMessage(channel="C001", text=f"{i}")
            except SlackApiError as error:
                response = error.response
                answers.add((response.status_code, response.headers["Retry-After"], response["error"]))
                refused.append(i)
        assert answers == {(429, "3", "ratelimited")}
        return refused

    first = await refusals(seed=7)
    assert 10 <= len(first) <= 30
    assert await refusals(seed=7) == first
    assert fake.refused == {"random": 2 * len(first)}
    assert len(fake.messages["C001"]) == 200 - 2 * len(first)  # a refused message is not posted
    assert (await client.users_info(user="U001"))["ok"] is True  # only chat.postMessage by default
    fake.random_rate_limits(0)
    assert (await client.chat_postMessage(channel="C001", text="calm"))["ok"] is True
