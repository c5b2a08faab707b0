"""The Web API client and `respond()` of every listener, with the final fitting pass built in.

Each message and view Relais sends goes through `handlers.slack.blocks.fit` right before it leaves, so no
builder (or future one) can send something Slack refuses for its size, block count or field lengths.
The outbox's notifier fits its messages itself as well (it may be given a plain client).
"""

from __future__ import annotations

from collections.abc import Sequence
from ssl import SSLContext
from typing import Any

from aiohttp import ClientSession, FormData
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from handlers.slack.blocks.fit import fit_message, fit_view

MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage"})
VIEW_METHODS = frozenset({"views.open", "views.push", "views.update", "views.publish"})


def fit_arguments(method: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The JSON arguments of a Web API call, with its message or view fitted to Slack's limits."""
    if method in MESSAGE_METHODS and isinstance(arguments.get("blocks"), list):
        text, blocks = fit_message(str(arguments.get("text") or ""), arguments["blocks"])
        return {**arguments, "blocks": blocks} | ({"text": text} if arguments.get("text") else {})
    if method in VIEW_METHODS and isinstance(arguments.get("view"), dict):
        return {**arguments, "view": fit_view(arguments["view"])}
    return arguments


class FittingWebClient(AsyncWebClient):
    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | FormData | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        if json is not None:
            json = fit_arguments(api_method, json)
        return await super().api_call(
            api_method,
            http_verb=http_verb,
            files=files,
            data=data,
            params=params,
            json=json,
            headers=headers,
            auth=auth,
        )


class FittingRespond(AsyncRespond):
    """Bolt's `respond()` with the message fitted before it goes to the response URL, through the Web
    API client's aiohttp session when it has one (Bolt's own opens a session per call)."""

    def __init__(
        self,
        *,
        response_url: str | None,
        proxy: str | None = None,
        ssl: SSLContext | None = None,
        session: ClientSession | None = None,
    ) -> None:
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self.session = session

    async def __call__(  # type: ignore[override]
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        **options: Any,
    ) -> WebhookResponse:
        if isinstance(text, str) and blocks is not None:
            plain = [b.to_dict() if isinstance(b, Block) else b for b in blocks]
            text, fitted = fit_message(text, plain)
            blocks = fitted
        if self.session is None or self.session.closed or self.response_url is None:
            return await super().__call__(text, blocks, attachments, **options)
        client = AsyncWebhookClient(self.response_url, proxy=self.proxy, ssl=self.ssl, session=self.session)
        if isinstance(text, dict):
            return await client.send_dict(_build_message(**text))
        message = _build_message(text=text, blocks=blocks, attachments=attachments, **options)
        return await client.send_dict(message)


def install_fitting_respond(context: AsyncBoltContext) -> None:
    """Give this request's listeners the fitting `respond()` (a middleware calls it)."""
    if context.response_url is not None:
        client = context.client
        context["respond"] = FittingRespond(
            response_url=context.response_url, proxy=client.proxy, ssl=client.ssl, session=client.session
        )
