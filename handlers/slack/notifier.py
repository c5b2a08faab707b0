"""Sends outbox messages to Slack: renders each kind's neutral message (`bot.messages.outbox`) as Block
Kit, fits it to Slack's limits, and reports the outcome in neutral terms (a person who left, a dead
workspace token, a refusal)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Message
from bot.messages.outbox import EDIT_KINDS, message_for
from bot.notifier import (
    CHANNEL_ARCHIVED,
    CHANNEL_GONE,
    CHANNEL_UNUSABLE,
    MALFORMED,
    NOT_A_MEMBER,
    NOT_ALLOWED,
    RATE_LIMITED,
    RECIPIENT_GONE,
    REFUSED,
    TOKEN_REVOKED,
    TOO_BIG,
    TRANSIENT,
    Delivered,
    RatePolicy,
)
from bot.services.posts import POST_KIND
from handlers.slack.blocks import Blocks
from handlers.slack.blocks.fit import fit_message
from handlers.slack.files import delete_files
from handlers.slack.render import render

logger = logging.getLogger(__name__)

# Slack's errors in neutral terms (`bot.notifier`): codes, and the causes the admins are told (None: told
# by Slack's own name); any other error is `transient` (retried with a back-off).
# A channel that cannot be posted in (an announcement-only channel answers `restricted_action`):
CHANNEL_ERRORS: Final[Mapping[str, str]] = {
    "channel_not_found": CHANNEL_GONE,
    "is_archived": CHANNEL_ARCHIVED,
    "not_in_channel": NOT_A_MEMBER,
    "restricted_action": NOT_ALLOWED,
}
TOO_BIG_ERRORS: Final = frozenset({"msg_too_long", "msg_blocks_too_long"})
REFUSED_ERRORS: Final[Mapping[str, str | None]] = {
    "invalid_blocks": MALFORMED,
    "no_text": MALFORMED,
    "message_not_found": None,
    "cant_update_message": None,
}
# The workspace's bot token no longer works (the app's bot user or the workspace was deleted, the app
# uninstalled): nothing about the recipient. Messages wait for a working token.
TOKEN_ERRORS: Final = frozenset(
    {"account_inactive", "invalid_auth", "not_authed", "token_revoked", "token_expired"}
)
TOKEN_RETRY_SECONDS: Final = 3600
# What the operator is told to do when Slack refuses the bot token (`Delivered.remedy`).
CREDENTIALS_REMEDY: Final = (
    "The app's bot user or the workspace was deleted, or the app was uninstalled: replace the token "
    "(SLACK_BOT_TOKEN)"
)
# Slack takes about one message a second per channel, in short bursts.
SLACK_RATE: Final = RatePolicy(interval=timedelta(seconds=1), burst=3)


def workspace_rate(per_minute: int) -> RatePolicy:
    """Slack's workspace-wide cap on chat.postMessage (SLACK_MESSAGES_PER_MINUTE), as a pace: evenly
    spread, in bursts of one second's worth at most (Slack's `Retry-After` is in whole seconds: a burst
    no bigger than a second's refill is never refused for having come at once)."""
    return RatePolicy(interval=timedelta(minutes=1) / per_minute, burst=max(per_minute // 60, 1))


# With installs, a workspace the app is no longer installed in (its messages wait for a reinstall).
INSTALL_REMEDY: Final = (
    "The app is no longer installed in this workspace: install it again from /slack/install"
)


class ClientsByWorkspace(Protocol):
    """Each workspace's Web API client, with its installation's token (`handlers.slack.installations`);
    None when the app is no longer installed there."""

    async def for_workspace(self, workspace_id: int) -> AsyncWebClient | None: ...


class Pace(Protocol):
    """Asked before each message a workspace is sent (`bot.services.outbox.WorkspacePace`)."""

    async def wait(self, workspace_id: int) -> None: ...


def neutral_error(error: str, destination: str) -> str:
    """Slack's `error` for a message to `destination`, as a neutral code. A DM to a person who left
    fails with `user_not_found`, or `channel_not_found` for a user id (U…, W…)."""
    if error == "user_not_found" or (error == "channel_not_found" and destination[:1] in ("U", "W")):
        return RECIPIENT_GONE
    if error in TOKEN_ERRORS:
        return TOKEN_REVOKED
    if error in CHANNEL_ERRORS:
        return CHANNEL_UNUSABLE
    if error in TOO_BIG_ERRORS:
        return TOO_BIG
    if error in REFUSED_ERRORS:
        return REFUSED
    return TRANSIENT


def neutral_cause(error: str, code: str) -> str | None:
    """What the admins are told went wrong (`bot.notifier.CAUSES`), for Slack's `error` of `code`."""
    if code == CHANNEL_UNUSABLE:
        return CHANNEL_ERRORS.get(error)
    if code == TOO_BIG:
        return TOO_BIG
    if code == REFUSED:
        return REFUSED_ERRORS.get(error)
    return None


# Every message posted carries a mark in Slack's message metadata (an event type and its payload, which
# conversations.history returns with include_all_metadata): a digest of what it says and to whom. A send
# interrupted before its answer was recorded is looked for by it (`SlackNotifier.find_delivered`) among the
# conversation's latest messages rather than posted twice. Reading them takes the history scope of the
# conversation: the app asks im:history only (docs/slack-app-manifest.json), so only a DM is looked in; a
# channel's message is posted again (at least once), as is a DM's when Slack answers `missing_scope` (an
# app installed before im:history was asked). Slack returns at most 15 messages to apps outside its
# Marketplace (every self-hosted Relais), whatever `limit` asks.
MARK_EVENT: Final = "relais_outbox"
HISTORY_LIMIT: Final = 15
MISSING_SCOPE: Final = "missing_scope"


def mark_of(kind: str, destination: str, payload: dict[str, Any]) -> str:
    """The mark of a message: the same for the same message to the same destination, whoever sends it."""
    content = json.dumps([kind, destination, payload], sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()[:32]


class SlackNotifier:
    """Destinations are Slack ids as they are: a channel, or a user (Slack opens the DM). `client` is
    the one client of SLACK_BOT_TOKEN, or, with installs, each workspace's (`ClientsByWorkspace`): each
    message goes out with its own workspace's bot token. With a `pace`, each
    new message (chat.postMessage, which Slack caps per workspace) first waits for its workspace's turn;
    edits (chat.update) are limited per method, not by that cap."""

    rate = SLACK_RATE

    def __init__(self, client: AsyncWebClient | ClientsByWorkspace, *, pace: Pace | None = None) -> None:
        self._clients = client
        self._pace = pace

    async def _client_of(self, workspace_id: int) -> AsyncWebClient | None:
        if isinstance(self._clients, AsyncWebClient):
            return self._clients
        return await self._clients.for_workspace(workspace_id)

    async def delete_files(self, workspace_id: int, file_ids: Sequence[str]) -> tuple[str, ...]:
        """`bot.services.erasure.DeletesFiles` (`/relais forget-me`, `relais erase-member`, the clock): with
        the token of the workspace the files were sent in."""
        client = await self._client_of(workspace_id)
        if client is None:
            logger.warning(
                "the files Relais sent cannot be deleted yet: the app is no longer installed there"
            )
            return ()
        return await delete_files(client, file_ids)

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        message = message_for(kind, payload)
        client = await self._client_of(workspace_id)
        if client is None:
            return Delivered(
                ok=False,
                error=TOKEN_REVOKED,
                detail="not_installed",
                retry_after=TOKEN_RETRY_SECONDS,
                remedy=INSTALL_REMEDY,
            )
        try:
            if message is not None:
                text, blocks = _fitted(message)
                if kind in EDIT_KINDS:
                    response = await client.chat_update(
                        channel=destination, ts=str(payload["message_id"]), text=text, blocks=blocks
                    )
                    return Delivered(ok=True, message_id=response.get("ts"), channel=destination)
                # A post's card shows its own preview: Slack's unfurl would repeat it (None: not sent).
                unfurl = False if kind == POST_KIND else None
                if self._pace is not None:
                    await self._pace.wait(workspace_id)
                response = await client.chat_postMessage(
                    channel=destination,
                    text=text,
                    blocks=blocks,
                    unfurl_links=unfurl,
                    unfurl_media=unfurl,
                    metadata={
                        "event_type": MARK_EVENT,
                        "event_payload": {"mark": mark_of(kind, destination, payload)},
                    },
                )
                return Delivered(ok=True, message_id=response.get("ts"), channel=response.get("channel"))
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            if exc.response.status_code == 429:
                retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
                return Delivered(ok=False, error=RATE_LIMITED, detail=error, retry_after=retry_after)
            code = neutral_error(error, destination)
            if code == TOKEN_REVOKED:
                # Not the recipient's doing: the bot token is dead (`recipients` logs it and keeps waiting).
                return Delivered(
                    ok=False,
                    error=code,
                    detail=error,
                    retry_after=TOKEN_RETRY_SECONDS,
                    remedy=CREDENTIALS_REMEDY,
                )
            logger.warning("Slack refused a %s message to %s: %s", kind, destination, error)
            return Delivered(ok=False, error=code, detail=error, cause=neutral_cause(error, code))
        logger.error("no renderer for outbox kind %r", kind)
        return Delivered(ok=False, error=REFUSED, detail=f"unknown kind {kind}")

    async def find_delivered(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered | None:
        """This message, if it is among the latest `HISTORY_LIMIT` of its conversation (found by its mark,
        `mark_of`), as if just sent; None if it is not, or Slack cannot be asked; RATE_LIMITED when Slack
        refuses the look for now (ask again after `retry_after`), TOKEN_REVOKED when no client can ask
        (the workspace's installation cannot be used now: ask again later, never send it blind). Only a
        member's DM is looked in (the app may not read channels: asking would only earn
        `missing_scope`). An edit is never looked for: making it again changes nothing."""
        if kind in EDIT_KINDS or destination[:1] not in ("U", "W"):
            return None
        mark = mark_of(kind, destination, payload)
        client = await self._client_of(workspace_id)
        if client is None:  # cannot be asked now: ask again later rather than send it a second time
            return Delivered(
                ok=False,
                error=TOKEN_REVOKED,
                detail="not_installed",
                retry_after=TOKEN_RETRY_SECONDS,
                remedy=INSTALL_REMEDY,
            )
        try:
            opened = await client.conversations_open(users=destination)
            channel = str(opened["channel"]["id"])
            history = await client.conversations_history(
                channel=channel, limit=HISTORY_LIMIT, include_all_metadata=True
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if exc.response.status_code == 429:
                # Slack lets a self-hosted app read a conversation's history once a minute: look again
                # after Retry-After rather than post what may be there.
                retry_after = float(exc.response.headers.get("Retry-After", 60) or 60)
                return Delivered(ok=False, error=RATE_LIMITED, detail=str(error), retry_after=retry_after)
            if error == MISSING_SCOPE:  # not a failure: the message goes again, as for a channel
                logger.info(
                    "the app may not read DMs (add im:history, see docs/slack-app-manifest.json): an "
                    "interrupted %s message is sent again",
                    kind,
                )
            else:
                logger.warning(
                    "could not look for an interrupted %s message to %s: %s", kind, destination, error
                )
            return None
        for message in history.get("messages") or []:
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == MARK_EVENT
                and (metadata.get("event_payload") or {}).get("mark") == mark
            ):
                return Delivered(ok=True, message_id=message.get("ts"), channel=channel)
        return None


def _fitted(message: Message) -> tuple[str, Blocks]:
    """Every message the notifier sends is rendered, then goes through the final fitting pass
    (`blocks.fit`)."""
    text, blocks = fit_message(*render(message))
    return text, blocks or []
