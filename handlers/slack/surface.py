"""What only Slack can do for the core's flows (`bot.flows.caller.ChatSurface`): read a channel
reference in typed text, undo Slack's escapes, open the queue form."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import channels
from handlers.slack.blocks import unescape
from handlers.slack.blocks.modals import QueueForm, build_queue_modal


class SlackSurface:
    platform = "slack"

    def __init__(self, client: AsyncWebClient, *, trigger_id: str | None = None) -> None:
        self._client = client
        self._trigger_id = trigger_id

    def is_channel_reference(self, word: str) -> bool:
        return channels.is_channel_token(word)

    async def resolve_channel(self, reference: str) -> str:
        """Checked with Slack; the core's `UnknownChannel` when it names none."""
        return await channels.resolve_channel(self._client, reference)

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
