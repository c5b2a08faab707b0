"""Channel references in slash-command text: `<#C123|name>` (escaped by Slack), `<#C123>`, or `#name`."""

from __future__ import annotations

import re
from typing import Any, Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.flows.caller import UnknownChannel

CHANNEL_TOKEN: Final = re.compile(
    r"^(?:<#(?P<id>[CG][A-Z0-9]+)(?:\|(?P<label>[^>]*))?>|#(?P<name>[\w.-]{1,80}))$"
)


# A conversation id as a conversations select submits it: public (C…) or private (G…) channels.
CHANNEL_ID: Final = re.compile(r"[CG][A-Z0-9]{2,30}", re.ASCII)


def is_channel_token(word: str) -> bool:
    return CHANNEL_TOKEN.match(word) is not None


def is_channel_id(value: str) -> bool:
    return CHANNEL_ID.fullmatch(value) is not None


async def resolve_channel(client: AsyncWebClient, word: str, *, team_id: str | None = None) -> str:
    """The channel id a token stands for, checked with Slack; raises the core's `UnknownChannel`.
    `team_id`: the workspace to list, which an Enterprise Grid org-wide token needs."""
    match = CHANNEL_TOKEN.match(word)
    if match is None:
        raise UnknownChannel(word)
    if match["id"]:
        try:
            await client.conversations_info(channel=match["id"])
        except SlackApiError as exc:
            raise UnknownChannel(f"#{match['label'] or match['id']}") from exc
        return match["id"]
    name = match["name"].lower()
    cursor: str | None = None
    while True:
        page = await client.conversations_list(
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=200,
            cursor=cursor,
            **({"team_id": team_id} if team_id else {}),
        )
        channels: list[dict[str, Any]] = page.get("channels", [])
        for channel in channels:
            if channel.get("name") == name:
                return str(channel["id"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            raise UnknownChannel(f"#{name}")


def mention(channel_id: str) -> str:
    return f"<#{channel_id}>"


_MARKUP = re.compile(r"<(?P<kind>[@#!]?)(?P<target>[^|>]*)(?:\|(?P<label>[^>]*))?>")


def plain_text(text: str) -> str:
    """Slack's escaped command text as a person wrote it, fit for a post on another network: user and
    channel mentions become `@name` / `#name`, links their address, and `&amp; &lt; &gt;` characters."""

    def replace(match: re.Match[str]) -> str:
        kind, target, label = match["kind"], match["target"], match["label"]
        if kind in ("@", "#"):
            return kind + (label or target)
        if kind == "!":
            return label or ""
        return target

    return _MARKUP.sub(replace, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
