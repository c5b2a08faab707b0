"""What only Slack can do for the core's flows (`bot.flows.caller.ChatSurface`): read a channel
reference in typed text, undo Slack's escapes, open the queue form, and put a file in a member's DM
(`bot.flows.mydata.SendsFiles`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows.mydata import FileNotSent, PrivateFile
from handlers.slack import channels
from handlers.slack.blocks import unescape
from handlers.slack.blocks.modals import QueueForm, build_queue_modal
from handlers.slack.files import delete_files
from handlers.slack.render import mrkdwn

logger = logging.getLogger(__name__)


class SlackSurface:
    platform = "slack"

    def __init__(
        self, client: AsyncWebClient, *, trigger_id: str | None = None, team_id: str | None = None
    ) -> None:
        self._client = client
        self._trigger_id = trigger_id
        self._team_id = team_id  # an org-wide token's workspace (Enterprise Grid), for conversations.list

    def is_channel_reference(self, word: str) -> bool:
        return channels.is_channel_token(word)

    async def resolve_channel(self, reference: str) -> str:
        """Checked with Slack; the core's `UnknownChannel` when it names none."""
        return await channels.resolve_channel(self._client, reference, team_id=self._team_id)

    def typed(self, text: str) -> str:
        return unescape(text)

    def for_network(self, text: str) -> str:
        return channels.plain_text(text)

    async def open_queue_form(
        self,
        channels: tuple[str, ...],
        lang: str,
        *,
        url: str | None = None,
        suggestion_id: int | None = None,
    ) -> None:
        form = QueueForm(url=url, channels=channels, suggestion_id=suggestion_id)
        await self._client.views_open(trigger_id=self._trigger_id, view=build_queue_modal(form, lang))

    async def send_file(self, member: str, file: PrivateFile) -> tuple[str, ...]:
        """The file in the member's DM with Relais: the DM opened (`conversations.open`: a file is shared
        in a conversation, not to a user id), then slack_sdk's `files_upload_v2` (files.getUploadURLExternal,
        the bytes to the upload URL Slack gives, files.completeUploadExternal). The ids of the files Slack
        now keeps (the erasure deletes them: the member cannot delete a bot's file). `FileNotSent` when
        Slack refused any step or could not be reached (logged here; the error names no token), permanent
        when no retry can work until an admin acts (`PERMANENT_UPLOAD_ERRORS`)."""
        try:
            opened = await self._client.conversations_open(users=member)
            sent = await self._client.files_upload_v2(
                channel=str(opened["channel"]["id"]),
                filename=file.name,
                content=file.content,
                title=file.title,
                initial_comment=mrkdwn(file.comment),
            )
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            if code in PERMANENT_UPLOAD_ERRORS:
                logger.warning(
                    "Slack refuses Relais's file uploads (%s): %s", code, PERMANENT_UPLOAD_ERRORS[code]
                )
                raise FileNotSent(permanent=True) from error
            logger.exception("sending a file to a member's DM failed")
            raise FileNotSent from error
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as error:
            logger.exception("sending a file to a member's DM failed")
            raise FileNotSent from error
        return tuple(str(shared["id"]) for shared in sent.get("files") or () if shared.get("id"))

    async def delete_files(self, workspace_id: int, file_ids: Sequence[str]) -> tuple[str, ...]:
        """`bot.services.erasure.DeletesFiles` for the files this request's `send_file` just uploaded (a
        member erased meanwhile), with the request's client: the token that uploaded them. (An erasure
        deletes with each file's own workspace's token: `SlackNotifier.delete_files`.)"""
        return await delete_files(self._client, file_ids)


# Upload errors no retry fixes until an admin acts, and what the operator should do.
PERMANENT_UPLOAD_ERRORS: Final = {
    "missing_scope": "the app lacks the files:write scope; reinstall it to grant it",
    "file_uploads_disabled": "a workspace admin disabled file uploads",
    "not_allowed_token_type": "SLACK_BOT_TOKEN is not a bot token",
}
