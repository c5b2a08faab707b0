"""The fake Slack's file uploads, driven through the real slack_sdk client as Relais drives them
(`files_upload_v2`: files.getUploadURLExternal, the upload URL, files.completeUploadExternal), and
each refusal Slack documents for them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.demo.fake_slack import DEFAULT_SCOPES, FILE_UPLOAD, FakeInstall, FakeSlack

BOT_TOKEN = "xoxb-fake-bot"
CONTENT = '{"hello": "wörld"}\n'.encode()


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN) as server:
        server.add_user("U001", name="alice")
        server.add_user("U003", name="carol", deleted=True)
        server.add_channel("C001", "general", members=["U001"])
        server.add_channel("C002", "old-news", is_archived=True)
        server.add_channel("C003", "elsewhere", is_member=False)
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


async def test_a_file_uploaded_to_a_dm_is_shared_there_with_its_bytes_and_comment(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    dm = (await client.conversations_open(users="U001"))["channel"]["id"]
    answer = await client.files_upload_v2(
        channel=dm, filename="data.json", content=CONTENT, title="My data", initial_comment="Here it is"
    )
    file_id = answer["file"]["id"]
    # As Slack documents it: the completed files' ids and titles, nothing more.
    assert answer["files"] == [{"id": file_id, "title": "My data"}]
    stored = fake.files[file_id]
    assert stored["channels"] == [dm]
    assert (stored["name"], stored["content"], stored["length"]) == ("data.json", CONTENT, len(CONTENT))
    [message] = fake.messages[dm]
    assert message["text"] == "Here it is"
    assert message["user"] == fake.bot_user_id
    assert [shared["id"] for shared in message["files"]] == [file_id]
    assert message["files"][0]["name"] == "data.json"
    # The three steps, in order, the upload URL being the fake's own.
    methods = [call.method for call in fake.calls]
    assert methods == ["conversations.open", "files.getUploadURLExternal", "files.completeUploadExternal"]
    asked = fake.calls_to("files.getUploadURLExternal")[0].params
    assert (asked["filename"], int(asked["length"])) == ("data.json", len(CONTENT))


async def test_a_file_is_shared_in_a_conversation_not_to_a_user_id(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    refused = await api_error(client.files_upload_v2(channel="U001", filename="a.json", content=CONTENT))
    assert refused.response["error"] == "invalid_arguments"  # Slack checks channel_id's pattern
    assert "json-pointer:/channel_id" in refused.response["response_metadata"]["messages"][0]
    for channel, error in {
        "C002": "is_archived",
        "C003": "not_in_channel",
        "C404": "channel_not_found",
    }.items():
        refused = await api_error(client.files_upload_v2(channel=channel, filename="a.json", content=CONTENT))
        assert refused.response["error"] == error, channel
    assert all(not messages for messages in fake.messages.values())
    # `channels` takes user ids too: the bot's DM with them.
    shared = await client.files_completeUploadExternal(
        files=[{"id": await _uploaded(fake, client), "title": "t"}], channels=["U001"]
    )
    assert fake.files[shared["files"][0]["id"]]["channels"] == [fake.dm_channel_id("U001")]
    refused = await api_error(
        client.files_completeUploadExternal(files=[{"id": await _uploaded(fake, client)}], channels=["U003"])
    )
    assert refused.response["error"] == "user_not_found"


async def test_without_files_write_every_step_is_refused_missing_scope(fake: FakeSlack) -> None:
    fake.scopes = [scope for scope in DEFAULT_SCOPES if scope != "files:write"]
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    refused = await api_error(client.files_upload_v2(channel="C001", filename="a.json", content=CONTENT))
    assert refused.response["error"] == "missing_scope"
    assert refused.response["needed"] == "files:write"
    assert fake.files == {}


async def test_arguments_are_checked_and_a_file_is_completed_once_after_its_upload(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    refused = await api_error(client.api_call("files.getUploadURLExternal", params={"length": 3}))
    assert refused.response["error"] == "invalid_arguments"
    assert refused.response["response_metadata"]["messages"] == ["[ERROR] missing required field: filename"]
    refused = await api_error(client.files_getUploadURLExternal(filename="a.json", length=0))
    assert refused.response["error"] == "missing_argument"
    refused = await api_error(client.files_completeUploadExternal(files=[{"id": "F404"}]))
    assert refused.response["error"] == "file_not_found"
    refused = await api_error(client.api_call("files.completeUploadExternal", params={"channel_id": "C001"}))
    assert refused.response["error"] == "invalid_arguments"

    asked = await client.files_getUploadURLExternal(filename="a.json", length=len(CONTENT))
    refused = await api_error(client.files_completeUploadExternal(files=[{"id": asked["file_id"]}]))
    assert refused.response["error"] == "file_not_found"  # nothing uploaded yet
    async with httpx.AsyncClient() as http:
        short = await http.post(asked["upload_url"], content=CONTENT[:-1])
        assert short.status_code == 400  # fewer bytes than announced
        done = await http.post(asked["upload_url"], files={"file": ("a.json", CONTENT)})
        assert (done.status_code, done.text) == (200, f"OK - {len(CONTENT)}")
        again = await http.post(asked["upload_url"], content=CONTENT)
        assert again.status_code == 404  # an upload URL serves once
    # Completed without a channel: the file stays private, in no conversation.
    completed = await client.files_completeUploadExternal(files=[{"id": asked["file_id"], "title": "A"}])
    assert completed["files"][0]["title"] == "A"
    assert fake.files[asked["file_id"]]["channels"] == []
    refused = await api_error(client.files_completeUploadExternal(files=[{"id": asked["file_id"]}]))
    assert refused.response["error"] == "file_not_found"
    assert json.loads(fake.files[asked["file_id"]]["content"]) == {"hello": "wörld"}


async def test_a_failing_upload_url_fails_the_upload_and_shares_nothing(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next(FILE_UPLOAD, status=500)
    with pytest.raises(SlackRequestError):
        await client.files_upload_v2(channel="C001", filename="a.json", content=CONTENT)
    assert fake.calls_to("files.completeUploadExternal") == []
    assert fake.messages["C001"] == []


async def _uploaded(fake: FakeSlack, client: AsyncWebClient) -> str:
    """A file uploaded and not yet completed: its id."""
    asked = await client.files_getUploadURLExternal(filename="a.json", length=len(CONTENT))
    async with httpx.AsyncClient() as http:
        assert (await http.post(asked["upload_url"], content=CONTENT)).status_code == 200
    return str(asked["file_id"])


async def test_a_file_is_deleted_only_by_the_bot_that_uploaded_it(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    dm = (await client.conversations_open(users="U001"))["channel"]["id"]
    file_id = (await client.files_upload_v2(channel=dm, filename="data.json", content=CONTENT))["file"]["id"]
    # Another app's bot (an installation's token) may not delete it.
    fake.installs["xoxb-other"] = FakeInstall(
        team_id="T0002", team_name="Other", enterprise_id=None, enterprise_name=None,
        is_enterprise_install=False, bot_token="xoxb-other", bot_user_id="UOTHERBOT", bot_id="BOTHER",
        installer="U009",
    )  # fmt: skip
    other = AsyncWebClient(token="xoxb-other", base_url=fake.api_url)
    refused = await api_error(other.files_delete(file=file_id))
    assert refused.response["error"] == "cant_delete_file"
    assert fake.files[file_id]["content"] == CONTENT

    assert (await client.files_delete(file=file_id))["ok"] is True
    assert (fake.files[file_id]["deleted"], fake.files[file_id]["content"]) == (True, None)
    [message] = fake.messages[dm]
    assert message["files"] == [{"id": file_id, "mode": "tombstone"}]
    assert (await api_error(client.files_delete(file=file_id))).response["error"] == "file_deleted"
    assert (await api_error(client.files_delete(file="F404"))).response["error"] == "file_not_found"
    refused = await api_error(client.api_call("files.delete", params={}))
    assert refused.response["error"] == "invalid_arguments"
    fake.scopes = [scope for scope in DEFAULT_SCOPES if scope != "files:write"]
    assert (await api_error(client.files_delete(file=file_id))).response["error"] == "missing_scope"
