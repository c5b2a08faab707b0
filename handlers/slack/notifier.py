"""Sends outbox messages to Slack: renders each kind with the block builders, fits it to Slack's limits,
and reports the outcome in neutral terms (a person who left, a dead workspace token, a refusal)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.notifier import (
    CHANNEL_UNUSABLE,
    RATE_LIMITED,
    RECIPIENT_GONE,
    REFUSED,
    TOKEN_REVOKED,
    TOO_BIG,
    TRANSIENT,
    Delivered,
    RatePolicy,
)
from bot.services.connections import CONNECTED_KIND, EXPIRING_KIND
from bot.services.posting import SHARE_RESULT_KIND, ShareView
from bot.services.posts import POST_KIND, POST_UPDATE_KIND, PostCard
from bot.services.progress import PROGRESS_KIND, PROGRESS_UPDATE_KIND
from bot.services.recipients import ADMIN_ALERT_KIND, POST_REFUSED_KIND
from bot.services.weekly import LEADERBOARD_KIND, NUDGE_KIND, RANK_KIND
from handlers.slack.blocks import Blocks, section
from handlers.slack.blocks.delivery import build_post_refused
from handlers.slack.blocks.fit import fit_message
from handlers.slack.blocks.leaderboard import build_leaderboard, build_rank
from handlers.slack.blocks.nudge import build_nudge
from handlers.slack.blocks.post import build_post_message
from handlers.slack.blocks.social import build_connected, build_expiring, build_share_outcome
from handlers.slack.social import local_date
from handlers.slack.text import t

logger = logging.getLogger(__name__)

# Slack's errors in neutral terms (`bot.notifier`); any other is `transient` (retried with a back-off).
# A channel that cannot be posted in (an announcement-only channel answers `restricted_action`):
CHANNEL_ERRORS: Final = frozenset({"channel_not_found", "is_archived", "not_in_channel", "restricted_action"})
TOO_BIG_ERRORS: Final = frozenset({"msg_too_long", "msg_blocks_too_long"})
REFUSED_ERRORS: Final = frozenset({"invalid_blocks", "no_text", "message_not_found", "cant_update_message"})
# The workspace's bot token no longer works (the app's bot user or the workspace was deleted, the app
# uninstalled): nothing about the recipient. Messages wait for a working token.
TOKEN_ERRORS: Final = frozenset(
    {"account_inactive", "invalid_auth", "not_authed", "token_revoked", "token_expired"}
)
TOKEN_RETRY_SECONDS: Final = 3600
# Slack takes about one message a second per channel, in short bursts.
SLACK_RATE: Final = RatePolicy(interval=timedelta(seconds=1), burst=3)


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


def _number(n: int, lang: str) -> str:
    """1,200 in English, 1 200 in French (a narrow no-break space)."""
    return f"{n:,}".replace(",", "\u202f") if lang == "fr" else f"{n:,}"


def build_progress(payload: dict[str, Any]) -> tuple[str, Blocks]:
    lang = str(payload.get("lang", "en"))
    done, total = int(payload.get("done", 0)), int(payload["total"])
    what = t(lang, f"progress_{payload['what']}")
    key = "progress_done" if done >= total else "progress_line"
    text = t(lang, key, what=what, done=_number(done, lang), total=_number(total, lang))
    return text, [section(text)]


def _render_personal(kind: str, payload: dict[str, Any], lang: str) -> tuple[str, Blocks] | None:
    """Messages built from their payload alone: to one member (connections, API shares, nudges, ranks)
    or to a channel (the leaderboard)."""
    if kind == CONNECTED_KIND:
        return build_connected(network=str(payload["network"]), lang=lang)
    if kind == EXPIRING_KIND:
        date = local_date(datetime.fromisoformat(str(payload["expires_at"])), payload.get("timezone"))
        return build_expiring(network=str(payload["network"]), date=date, lang=lang)
    if kind == SHARE_RESULT_KIND:
        return build_share_outcome(ShareView.from_payload(payload["share"]), lang)
    if kind == LEADERBOARD_KIND:
        return build_leaderboard(payload)
    if kind == RANK_KIND:
        return build_rank(payload)
    if kind == NUDGE_KIND:
        return build_nudge(payload)
    if kind == PROGRESS_KIND:
        return build_progress(payload)
    if kind == ADMIN_ALERT_KIND:
        text = t(lang, f"channel_problem_{payload['error']}", channel=f"<#{payload['channel']}>")
        return text, [section(text)]
    if kind == POST_REFUSED_KIND:
        return build_post_refused(payload)
    return None


class SlackNotifier:
    """Destinations are Slack ids as they are: a channel, or a user (Slack opens the DM); one bot
    token serves every workspace, so `workspace_id` is not needed to reach anyone."""

    rate = SLACK_RATE

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        lang = str(payload.get("lang", "en"))
        try:
            if kind == POST_KIND:
                text, blocks = _fitted(build_post_message(PostCard.from_payload(payload["post"]), lang))
                response = await self._client.chat_postMessage(
                    channel=destination, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
                )
                return Delivered(ok=True, message_id=response.get("ts"), channel=response.get("channel"))
            personal = _render_personal(kind, payload, lang)
            if personal is not None:
                text, blocks = _fitted(personal)
                response = await self._client.chat_postMessage(channel=destination, text=text, blocks=blocks)
                return Delivered(ok=True, message_id=response.get("ts"), channel=response.get("channel"))
            if kind == PROGRESS_UPDATE_KIND:
                text, blocks = _fitted(build_progress(payload))
                response = await self._client.chat_update(
                    channel=destination, ts=str(payload["message_id"]), text=text, blocks=blocks
                )
                return Delivered(ok=True, message_id=response.get("ts"), channel=destination)
            if kind == POST_UPDATE_KIND:
                text, blocks = _fitted(build_post_message(PostCard.from_payload(payload["post"]), lang))
                response = await self._client.chat_update(
                    channel=destination, ts=str(payload["message_id"]), text=text, blocks=blocks
                )
                return Delivered(ok=True, message_id=response.get("ts"))
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            if exc.response.status_code == 429:
                retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
                return Delivered(ok=False, error=RATE_LIMITED, detail=error, retry_after=retry_after)
            code = neutral_error(error, destination)
            if code == TOKEN_REVOKED:
                # Not the recipient's doing: the bot token is dead (`recipients` logs it and keeps waiting).
                return Delivered(ok=False, error=code, detail=error, retry_after=TOKEN_RETRY_SECONDS)
            logger.warning("Slack refused a %s message to %s: %s", kind, destination, error)
            return Delivered(ok=False, error=code, detail=error)
        logger.error("no renderer for outbox kind %r", kind)
        return Delivered(ok=False, error=REFUSED, detail=f"unknown kind {kind}")


def _fitted(message: tuple[str, Blocks]) -> tuple[str, Blocks]:
    """Every message the notifier sends goes through the final fitting pass (`blocks.fit`)."""
    text, blocks = fit_message(*message)
    return text, blocks or []
