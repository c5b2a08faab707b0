"""The last line of defence: a listener or middleware that raises still gives the person a definite
answer, never an HTTP 500 or Slack's "this app did not respond".

Bolt calls these handlers with the request and, when the failure came before the ack, the response it
is about to send (500 by default). Before the ack nothing was written by the request (writes before the
ack are the share's group commit, which the listeners handle themselves), so the person is told
"nothing was changed" and Slack gets a 200. After the ack, the listener may have done part of its work;
the person is told it could not be finished and may try again (every action is idempotent).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.core import Relais
from bot.flows.acting import cached_language
from handlers.slack.deps import CONTEXT_KEY
from handlers.slack.identity import acting_team, who
from handlers.slack.text import t

logger = logging.getLogger(__name__)

Listener = TypeVar("Listener", bound=Callable[..., Awaitable[Any]])


def register_error_handlers(app: AsyncApp) -> None:
    """One handler for listeners and middleware (Bolt gives a middleware failure the response too)."""

    async def on_error(
        error: Exception, request: AsyncBoltRequest, response: BoltResponse | None
    ) -> BoltResponse | None:
        return await _answer(app, error, request, before_ack=response is not None)

    app.error(on_error)


def answering(listener: Listener) -> Listener:
    """Wrap a listener so that a failure after its ack is answered here. Bolt's own error path cannot be
    used for that: it resets the ack's response once the handler returns, and a failure within
    milliseconds of the ack then turns the click into Slack's "this app did not respond" (HTTP 404).
    Before the ack the failure goes on to Bolt's error handler (`register_error_handlers`). Bolt reads
    the wrapped listener's parameters (through `__wrapped__`), so its arguments are unchanged."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> Any:
        try:
            return await listener(**kwargs)
        except Exception as error:
            ack = kwargs.get("ack")
            if not isinstance(ack, AsyncAck) or ack.response is None:
                raise
            body = kwargs.get("body") or kwargs.get("command") or {}
            context = kwargs.get("context")
            client = kwargs.get("client")
            if isinstance(client, AsyncWebClient):
                await _tell_failure(client, body, context, error, before_ack=False)
            else:
                logger.error("a Slack listener failed after the ack", exc_info=error)
            return None

    return cast(Listener, run)


async def _answer(
    app: AsyncApp, error: Exception, request: AsyncBoltRequest, *, before_ack: bool
) -> BoltResponse | None:
    body: dict[str, Any] = request.body if isinstance(request.body, dict) else {}
    await _tell_failure(app.client, body, request.context, error, before_ack=before_ack)
    if not before_ack:
        return None
    # An empty 200: the click or command is acknowledged (a form closes), and the message says why.
    return BoltResponse(status=200, body="")


async def _tell_failure(
    client: AsyncWebClient, body: dict[str, Any], context: Any, error: Exception, *, before_ack: bool
) -> None:
    logger.error(
        "a Slack %s failed %s the ack",
        body.get("type") or ("command" if "command" in body else "request"),
        "before" if before_ack else "after",
        exc_info=error,
    )
    team_id, user_id = _team_and_user(body)
    deps = context.get(CONTEXT_KEY) if context is not None else None
    lang = "en"
    if isinstance(deps, Relais) and team_id and user_id:
        lang = cached_language(deps, who(team_id, user_id))
    text = t(lang, "something_went_wrong" if before_ack else "went_wrong_after")
    try:
        await _tell(client, body, user_id, text)
    except Exception:
        logger.exception("could not tell the person that their request failed")


def _team_and_user(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """Whose language the failure is told in: the workspace the request acts in (`acting_team`, as the
    listeners read it), and the sender, when the payload names them."""
    user = body.get("user")
    sender = body.get("user_id") if "command" in body else user.get("id") if isinstance(user, dict) else None
    return acting_team(body), (str(sender) if isinstance(sender, str) and sender else None)


async def _tell(client: AsyncWebClient, body: dict[str, Any], user_id: str | None, text: str) -> None:
    response_url = body.get("response_url")
    if isinstance(response_url, str) and response_url:
        await AsyncWebhookClient(response_url).send(
            text=text, response_type="ephemeral", replace_original=False
        )
    elif user_id:
        await client.chat_postMessage(channel=user_id, text=text)
