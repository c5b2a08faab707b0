"""A local fake of Slack: the Web API, `response_url` endpoints and Socket Mode.

`FakeSlack` is an aiohttp server on 127.0.0.1 (random port) that the real `slack_sdk` clients talk to:
point `AsyncWebClient(base_url=fake.api_url)` at it, post to `fake.response_url()` with `AsyncWebhookClient`,
and connect slack_sdk's aiohttp `SocketModeClient` (its `apps.connections.open` call returns a `ws://` URL on
the fake). It speaks Slack's wire protocol:

* Web API methods accept form-encoded, multipart, query-string and JSON bodies, the token in an
  `Authorization: Bearer` header (or, as Slack still allows, a `token` parameter), and answer HTTP 200 with
  `{"ok": true, ...}` or `{"ok": false, "error": "..."}`; rate limits are HTTP 429 with `Retry-After` and
  `{"ok": false, "error": "ratelimited"}`; edge failures (5xx) are HTML pages, not JSON.
* Responses carry `X-Slack-Req-Id` and, for the bot token, `X-OAuth-Scopes` (Bolt reads it after auth.test).
* Like Slack, `users.list` also returns the bot user and Slackbot (`USLACKBOT`, which is *not* `is_bot`),
  unless `builtin_users=False`; a bot that is not in a private channel gets `channel_not_found` for it.
* Block Kit payloads are checked against Slack's documented limits (50 blocks a message, 100 a view, 3000
  characters in a section's text, 150 in a header, 24 in a modal's title, 75 in a button's text, unique
  block_ids...), with Slack's error shapes (`invalid_blocks` + `errors`, `invalid_arguments` +
  `response_metadata.messages`).
* A message whose blocks hold more than 12,000 characters of text in all is refused `msg_blocks_too_long`
  (Slack's undocumented total); a second `primary` button in one actions block is not refused (Slack only
  advises against it) but recorded in `violations`, which tests assert empty.
* An announcement-only channel (`add_channel(..., announcement_only=True)`: only workspace admins may
  post) refuses the bot's chat.postMessage with `restricted_action`. `deactivate_token()` makes every
  call with the bot token answer `account_inactive`, as Slack does once the app's bot user or workspace
  is gone.
* Sign in with Slack (OpenID Connect): `GET /openid/connect/authorize` (`authorize_url`) is the consent page
  as the browser of whoever `sign_in_as` names sees it (nobody: 401), redirecting to the `redirect_uri` with a
  single-use code and the `state` (or `error=access_denied` when they decline); `openid.connect.token` takes
  the client id and secret (HTTP Basic, as slack_sdk sends them, or form fields), the code and the same
  `redirect_uri` (and the PKCE `code_verifier` when the authorize request had an S256 `code_challenge`:
  else `invalid_code_verifier`), and gives a user token and an ID token (HS256 with the client secret,
  carrying the `nonce`); `openid.connect.userInfo` names the person with Slack's claims (`sub`,
  `https://slack.com/user_id`, `https://slack.com/team_id`, `name`, `locale`...).
* Installs (OAuth v2): `GET /oauth/v2/authorize` (`install_url`) is the install page as the browser of whoever
  `install_as` names sees it, for the fake's own workspace, another one (`add_team`) or org-wide in an
  Enterprise Grid organisation, redirecting with a single-use code and the `state`; `oauth.v2.access` takes
  the client id and secret (HTTP Basic or form fields) and the code (`invalid_client_id`,
  `bad_client_secret`, `invalid_code`, `bad_redirect_uri`) and gives that installation its own bot token
  (`installs`, `install_of`), which every method then takes; `uninstall` makes it answer `token_revoked`.
  With `token_lifetime` set, tokens come with a refresh token and `expires_in`, and
  `grant_type=refresh_token` renews them (a refresh token is used once: else `invalid_refresh_token`).
* Rate limits, when asked for: chat.postMessage about one a second per channel in bursts
  (`limit_channel_rate`), a workspace-wide cap (`limit_workspace_rate`, 600 a minute by default) and a
  seeded fraction of random 429s (`random_rate_limits`); `accepted` counts the calls answered `ok`, by
  method, and `refused` the 429s, by cause.
* A `trigger_id` can be used once (`exchanged_trigger_id` the second time); the trigger id "expired" answers
  `expired_trigger_id`.
* Files, as slack_sdk's `files_upload_v2` sends them: `files.getUploadURLExternal` (`filename`, `length` in
  bytes; the `files:write` scope) gives a `file_id` and an `upload_url` served by the fake
  (`POST /upload/v1/<id>`, the bytes raw or as a multipart form); then
  `files.completeUploadExternal` (`files` as a JSON array of `{"id", "title"}`, each uploaded file completed
  once, else `file_not_found`) shares them in `channel_id` (a conversation id: a user id is
  `invalid_arguments`, as Slack's pattern `^[CGDZ]…` answers; the bot must be able to post there) or in
  `channels` (ids, a user id meaning the bot's DM with them), as one message by the bot carrying `files`
  and the `initial_comment` as its text, and answers `files: [{"id", "title"}]` as documented.
  `files.delete` (`file`; `files:write`) deletes a file only for the token that uploaded it
  (`cant_delete_file` otherwise; `file_not_found`, then `file_deleted`): its bytes go, and the messages
  carrying it show it as a tombstone (`{"id", "mode": "tombstone"}`). `files` keeps every file with its
  bytes (`content`) and `deleted`; "file_upload" is the pseudo-method name `fail_next` and `delay` use for
  the upload URL. The fake's own behaviours, not Slack's documented ones: the upload URL answers 400 when
  it receives other than exactly `length` bytes, and 404 for an unknown upload.

Everything the fake receives is recorded (`calls`, `responses`, `socket_received`) and its state is plain data
(`messages`, `ephemerals`, `views`, `home_views`, `users`, `channels`) that tests read and may adjust.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import hashlib
import json
import math
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jwt
from aiohttp import WSCloseCode, WSMsgType, web

from bot.demo.local import LocalServer

__all__ = ["FakeChannel", "FakeInstall", "FakeSlack", "FakeUser", "SlackCall", "message_errors"]

# Timestamps ("ts") start here: 2025-11-26T23:33:20Z, then grow by 100 µs per message.
TS_BASE = 1764200000

# Form fields that Slack expects JSON-encoded (slack_sdk sends them as JSON values in JSON bodies).
JSON_ENCODED_FIELDS = ("attachments", "blocks", "metadata", "profile", "unfurls", "user_auth_blocks", "view")

DEFAULT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "files:write",
    "groups:read",
    "im:history",
    "im:write",
    "mpim:write",
    "reactions:write",
    "users:read",
    "users:read.email",
)

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
MESSAGE_MAX_TEXT = 40000
MESSAGE_MAX_BLOCKS_TEXT = 12000  # characters of text in all of a message's blocks

KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
OPTION_ELEMENTS = {  # element type -> maximum number of options
    "checkboxes": 10,
    "multi_static_select": 100,
    "overflow": 5,
    "radio_buttons": 10,
    "static_select": 100,
}

TZ_LABELS = {
    "America/Chicago": "Central Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "America/New_York": "Eastern Standard Time",
    "Asia/Tokyo": "Japan Standard Time",
    "Europe/Berlin": "Central European Time",
    "Europe/Brussels": "Central European Time",
    "Europe/London": "Greenwich Mean Time",
    "Europe/Madrid": "Central European Time",
    "Europe/Paris": "Central European Time",
    "UTC": "Coordinated Universal Time",
}

# Slack's workspace-wide cap on chat.postMessage is documented only as "several hundred messages per
# minute": the fake's default (`limit_workspace_rate`) takes 600 a minute (10 a second, the middle of
# "several hundred"), with a burst of one second's worth (10), so that a sender that waits the whole
# seconds of `Retry-After` loses nothing to the rounding.
WORKSPACE_MESSAGES_PER_MINUTE = 600
WORKSPACE_BURST = 10

# The pseudo-method name `fail_next` and `delay` use for POSTs to response URLs.
RESPONSE_URL = "response_url"
# The pseudo-method name `fail_next` and `delay` use for POSTs to upload URLs.
FILE_UPLOAD = "file_upload"


@dataclass
class SlackCall:
    """One HTTP request to the Web API, as the fake received it."""

    method: str  # e.g. "chat.postMessage"
    params: dict[str, Any]  # query + body; JSON-encoded form fields (blocks, view...) decoded
    token: str | None  # the bearer token (or `token` parameter) used
    headers: dict[str, str]
    http_method: str = "POST"
    content_type: str = ""  # "application/json", "application/x-www-form-urlencoded", "" (no body)...


@dataclass
class FakeUser:
    id: str
    name: str
    real_name: str
    display_name: str
    email: str | None = None
    locale: str = "en-US"
    tz: str = "Europe/Paris"
    tz_label: str = "Central European Time"
    tz_offset: int = 3600
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    deleted: bool = False
    is_bot: bool = False
    bot_id: str | None = None
    team_id: str | None = None  # the workspace it belongs to (None: seen from every workspace)


@dataclass
class FakeChannel:
    id: str
    name: str
    is_archived: bool = False
    is_member: bool = True  # whether the bot is in it
    is_private: bool = False
    members: list[str] = field(default_factory=list)  # human members (the bot is listed when is_member)
    is_im: bool = False
    is_mpim: bool = False
    user: str | None = None  # the other party of an IM
    topic: str = ""
    purpose: str = ""
    created: int = TS_BASE - 86400 * 30
    announcement_only: bool = False  # only workspace admins may post (the bot gets restricted_action)
    team_id: str | None = None  # the workspace it belongs to (None: seen from every workspace)


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str | None


@dataclass(frozen=True)
class _OidcGrant:
    """What a Sign in with Slack code (then its user token) stands for."""

    user_id: str
    team_id: str
    nonce: str | None
    redirect_uri: str
    scopes: frozenset[str]
    code_challenge: str | None = None  # PKCE (S256 only): the token request must bring its verifier


@dataclass
class FakeInstall:
    """An installation of the app by OAuth v2 (`oauth.v2.access`): a workspace's, or an Enterprise Grid
    organisation's (`is_enterprise_install`, no team), with its own bot token."""

    team_id: str | None
    team_name: str | None
    enterprise_id: str | None
    enterprise_name: str | None
    is_enterprise_install: bool
    bot_token: str
    bot_user_id: str
    bot_id: str
    installer: str
    revoked: bool = False
    refresh_token: str | None = None  # with token rotation (`FakeSlack.token_lifetime`)


@dataclass(frozen=True)
class _InstallGrant:
    """What an install code stands for: who consented, for which workspace or organisation."""

    user_id: str
    team_id: str | None
    enterprise_id: str | None
    redirect_uri: str
    scopes: str


@dataclass
class _ResponseTarget:
    channel: str | None
    message_ts: str | None
    user: str | None


class _SlackError(Exception):
    """An `{"ok": false, "error": ...}` answer, with Slack's extra fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _s256(verifier: str | None) -> str | None:
    """RFC 7636's S256 challenge of a PKCE verifier (written here again: the fake checks Relais's)."""
    if verifier is None:
        return None
    digest = hashlib.sha256(verifier.encode("ascii", errors="replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _invalid_arguments(messages: list[str]) -> _SlackError:
    return _SlackError(
        "invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]}
    )


def _flag(value: Any) -> bool:
    """Slack's reading of a boolean parameter: true, "true", "1", 1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return False


def _edge_error_page(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    title = f"{status} {phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n"
        f"<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )


# ------------------------------------------------------------------------------------------------------------
# Block Kit checks (a subset of Slack's schema: the limits real code trips over)


def _text_errors(obj: Any, pointer: str, *, max_length: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"must provide an object [json-pointer:{pointer}]"]
    if plain_only and obj["type"] != "plain_text":
        return [f"must be a valid enum value [json-pointer:{pointer}/type]"]
    text = obj.get("text")
    if not isinstance(text, str):
        return [f"missing required field: text [json-pointer:{pointer}]"]
    if len(text) == 0:
        return [f"must be more than 0 characters [json-pointer:{pointer}/text]"]
    if len(text) > max_length:
        return [f"must be less than {max_length + 1} characters [json-pointer:{pointer}/text]"]
    return []


def _length_errors(value: Any, pointer: str, max_length: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [f"must be a string [json-pointer:{pointer}]"]
    if len(value) > max_length:
        return [f"must be less than {max_length + 1} characters [json-pointer:{pointer}]"]
    return []


def _element_errors(element: Any, pointer: str) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [f"must provide an object [json-pointer:{pointer}]"]
    errors = _length_errors(element.get("action_id"), f"{pointer}/action_id", 255)
    kind = element["type"]
    if kind == "button":
        errors += _text_errors(element.get("text"), f"{pointer}/text", max_length=75, plain_only=True)
        errors += _length_errors(element.get("value"), f"{pointer}/value", 2000)
        errors += _length_errors(element.get("url"), f"{pointer}/url", 3000)
    elif kind in OPTION_ELEMENTS:
        options = element.get("options")
        if options is not None:
            if not isinstance(options, list):
                errors.append(f"must be an array [json-pointer:{pointer}/options]")
            else:
                if len(options) > OPTION_ELEMENTS[kind]:
                    maximum = OPTION_ELEMENTS[kind] + 1
                    errors.append(f"must be less than {maximum} items [json-pointer:{pointer}/options]")
                for index, option in enumerate(options):
                    where = f"{pointer}/options/{index}"
                    if not isinstance(option, dict):
                        errors.append(f"must provide an object [json-pointer:{where}]")
                        continue
                    errors += _text_errors(option.get("text"), f"{where}/text", max_length=75)
                    errors += _length_errors(option.get("value"), f"{where}/value", 150)
    return errors


def _block_errors(blocks: Any, pointer: str, max_blocks: int) -> list[str]:
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"must be less than {max_blocks + 1} items [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"must provide an object [json-pointer:{where}]")
            continue
        kind = block["type"]
        if kind not in KNOWN_BLOCK_TYPES:
            errors.append(f"unsupported type: {kind} [json-pointer:{where}/type]")
            continue
        block_id = block.get("block_id")
        errors += _length_errors(block_id, f"{where}/block_id", 255)
        if isinstance(block_id, str):
            if block_id in block_ids:
                errors.append(f"duplicate block_id: {block_id} [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                errors.append(f"must provide either text or fields [json-pointer:{where}]")
            if text is not None:
                errors += _text_errors(text, f"{where}/text", max_length=3000)
            if fields is not None:
                if not isinstance(fields, list):
                    errors.append(f"must be an array [json-pointer:{where}/fields]")
                else:
                    if len(fields) > 10:
                        errors.append(f"must be less than 11 items [json-pointer:{where}/fields]")
                    for number, item in enumerate(fields):
                        errors += _text_errors(item, f"{where}/fields/{number}", max_length=2000)
            if block.get("accessory") is not None:
                errors += _element_errors(block["accessory"], f"{where}/accessory")
        elif kind == "header":
            errors += _text_errors(block.get("text"), f"{where}/text", max_length=150, plain_only=True)
        elif kind in ("actions", "context"):
            elements = block.get("elements")
            maximum = 25 if kind == "actions" else 10
            if not isinstance(elements, list) or not elements:
                errors.append(f"must provide a non-empty array [json-pointer:{where}/elements]")
            else:
                if len(elements) > maximum:
                    errors.append(f"must be less than {maximum + 1} items [json-pointer:{where}/elements]")
                if kind == "actions":
                    for number, element in enumerate(elements):
                        errors += _element_errors(element, f"{where}/elements/{number}")
        elif kind == "input":
            errors += _text_errors(block.get("label"), f"{where}/label", max_length=2000, plain_only=True)
            if block.get("hint") is not None:
                errors += _text_errors(block["hint"], f"{where}/hint", max_length=2000, plain_only=True)
            if block.get("element") is None:
                errors.append(f"missing required field: element [json-pointer:{where}]")
            else:
                errors += _element_errors(block["element"], f"{where}/element")
        elif kind == "image":
            if block.get("image_url") is None and block.get("slack_file") is None:
                errors.append(f"missing required field: image_url [json-pointer:{where}]")
            if block.get("alt_text") is None:
                errors.append(f"missing required field: alt_text [json-pointer:{where}]")
            errors += _length_errors(block.get("alt_text"), f"{where}/alt_text", 2000)
    return errors


def _blocks_text_length(blocks: Any) -> int:
    """The characters of every text object's `text` in `blocks` (what Slack's total limit counts)."""
    total, stack = 0, [blocks]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") in ("mrkdwn", "plain_text") and isinstance(item.get("text"), str):
                total += len(item["text"])
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total


def _guideline_violations(blocks: Any, pointer: str) -> list[str]:
    """What Slack accepts but its guidelines forbid: more than one primary button in an actions block."""
    if not isinstance(blocks, list):
        return []
    found = []
    for index, block in enumerate(blocks):
        if (
            isinstance(block, dict)
            and block.get("type") == "actions"
            and isinstance(block.get("elements"), list)
        ):
            primaries = [e for e in block["elements"] if isinstance(e, dict) and e.get("style") == "primary"]
            if len(primaries) > 1:
                found.append(
                    f"{len(primaries)} primary buttons in one actions block [json-pointer:{pointer}/{index}]"
                )
    return found


def message_errors(blocks: Any) -> list[str]:
    """Everything the fake would say about a message's blocks: Slack's errors (`invalid_blocks` details,
    `msg_blocks_too_long`) and the guideline breaches it records. Empty means Slack takes it cleanly."""
    errors = _block_errors(blocks, "/blocks", MESSAGE_MAX_BLOCKS)
    if _blocks_text_length(blocks) > MESSAGE_MAX_BLOCKS_TEXT:
        errors.append("msg_blocks_too_long")
    return errors + _guideline_violations(blocks, "/blocks")


def _view_errors(view: Any, allowed_types: Sequence[str]) -> list[str]:
    if view is None:
        return ["missing required field: view"]
    if not isinstance(view, dict):
        return ["must provide an object [json-pointer:/view]"]
    errors: list[str] = []
    kind = view.get("type")
    if kind not in allowed_types:
        return [f"must be a valid enum value ({', '.join(allowed_types)}) [json-pointer:/view/type]"]
    if kind == "modal":
        if view.get("title") is None:
            errors.append("missing required field: title [json-pointer:/view]")
        else:
            errors += _text_errors(view["title"], "/view/title", max_length=24, plain_only=True)
        for name in ("submit", "close"):
            if view.get(name) is not None:
                errors += _text_errors(view[name], f"/view/{name}", max_length=24, plain_only=True)
    if "blocks" not in view:
        errors.append("missing required field: blocks [json-pointer:/view]")
    else:
        blocks = view["blocks"]
        errors += _block_errors(blocks, "/view/blocks", VIEW_MAX_BLOCKS)
        has_input = isinstance(blocks, list) and any(
            isinstance(block, dict) and block.get("type") == "input" for block in blocks
        )
        if kind == "modal" and has_input and view.get("submit") is None:
            errors.append("missing required field: submit [json-pointer:/view]")
    errors += _length_errors(view.get("private_metadata"), "/view/private_metadata", 3000)
    errors += _length_errors(view.get("callback_id"), "/view/callback_id", 255)
    errors += _length_errors(view.get("external_id"), "/view/external_id", 255)
    return errors


# ------------------------------------------------------------------------------------------------------------


class FakeSlack(LocalServer):
    """A fake Slack workspace served over HTTP and WebSocket on 127.0.0.1."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",  # noqa: S107
        team_id: str = "T0001",
        team_name: str = "Acme",
        bot_user_id: str = "UBOT",
        app_token: str = "xapp-test-token",  # noqa: S107
        bot_name: str = "relais",
        bot_id: str = "B0001",
        app_id: str = "A0001",
        scopes: Sequence[str] = DEFAULT_SCOPES,
        builtin_users: bool = True,
        client_id: str = "1111.2222",
        client_secret: str = "fake-slack-client-secret-0123456789abcdef",  # noqa: S107
    ) -> None:
        self.bot_token = bot_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.app_token = app_token
        self.bot_name = bot_name
        self.bot_id = bot_id
        self.app_id = app_id
        self.scopes = list(scopes)
        self.domain = re.sub(r"[^a-z0-9-]", "", team_name.lower()) or "workspace"

        self.users: dict[str, FakeUser] = {}
        self.channels: dict[str, FakeChannel] = {}

        self.calls: list[SlackCall] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.responses: list[dict[str, Any]] = []
        # Files by id (`files.getUploadURLExternal`): their name, title, declared length, bytes once
        # uploaded (`content`), and the conversations they were shared in.
        self.files: dict[str, dict[str, Any]] = {}
        self._uploads: dict[str, str] = {}  # upload URL's id -> file id

        self.socket_connected_event = asyncio.Event()
        self.socket_sent: list[dict[str, Any]] = []  # every envelope/message the fake sent
        self.socket_received: list[dict[str, Any]] = []  # every JSON message the client sent
        self.socket_acks: dict[str, dict[str, Any]] = {}  # envelope id -> the client's ack
        self.socket_connections = 0  # how many WebSocket connections were accepted in all

        self._sockets: list[web.WebSocketResponse] = []
        self._tickets: set[str] = set()
        self._ack_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._channel_limit: tuple[int, float] | None = None
        self._limit_clock: Callable[[], float] = time.monotonic
        self._channel_buckets: dict[str, tuple[float, float]] = {}
        # Slack's workspace-wide cap (`limit_workspace_rate`): (burst, per second, methods), and its bucket.
        self._workspace_limit: tuple[int, float, frozenset[str]] | None = None
        self._workspace_bucket: tuple[float, float] | None = None
        # Random 429s (`random_rate_limits`): (fraction, Retry-After, methods, seeded generator).
        self._random_limit: tuple[float, int, frozenset[str], random.Random] | None = None
        self.limited = 0  # every rate-limit refusal (a channel's, the workspace's, or a random one)
        self.refused: Counter[str] = Counter()  # the same refusals by cause: "channel", "workspace", "random"
        self.accepted: Counter[str] = Counter()  # calls answered `ok: true`, by method
        self.violations: list[str] = []  # guideline breaches Slack lets through (see _guideline_violations)
        self.token_error: str | None = None  # set by deactivate_token()
        self._delays: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self._response_targets: dict[str, _ResponseTarget] = {}
        self._ts_counter = 0
        self._id_counter = 0
        # Sign in with Slack: who is signed in to Slack in "the browser" (`sign_in_as`), the codes the
        # authorize page gave (single use) and the user tokens openid.connect.token gave for them.
        self.browser_user: str | None = None
        self.browser_team: str | None = None
        self.consents = True
        self._oidc_codes: dict[str, _OidcGrant] = {}
        # Claims the next ID token carries instead of the right ones (a test's misbehaving Slack).
        self.next_id_token_claims: dict[str, Any] = {}
        self._oidc_tokens: dict[str, _OidcGrant] = {}
        # OAuth v2 installs: the workspaces and organisations an installer may choose (`add_team`), the
        # organisation they install org-wide (`install_as`), the codes given and the installations made.
        self.teams: dict[str, tuple[str, str | None]] = {team_id: (team_name, None)}
        self.enterprises: dict[str, str] = {}
        self.browser_org: str | None = None
        self._install_codes: dict[str, _InstallGrant] = {}
        self.installs: dict[str, FakeInstall] = {}  # by bot token
        # Token rotation: set, installs' tokens last this many seconds and come with a refresh token.
        self.token_lifetime: int | None = None
        super().__init__()

        self._handlers: dict[str, Callable[[SlackCall], dict[str, Any]]] = {
            "api.test": self._api_test,
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.list": self._conversations_list,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.delete": self._files_delete,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "oauth.v2.access": self._oauth_v2_access,
            "openid.connect.token": self._openid_connect_token,
            "openid.connect.userInfo": self._openid_connect_user_info,
            "reactions.add": self._reactions_add,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "users.lookupByEmail": self._users_lookup_by_email,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.push": self._views_push,
            "views.update": self._views_update,
        }

        if builtin_users:
            self.add_user(bot_user_id, name=bot_name, real_name=bot_name.capitalize(), is_bot=True)
            self.users[bot_user_id].bot_id = bot_id
            self.add_user("USLACKBOT", name="slackbot", real_name="Slackbot", tz="America/Los_Angeles")

    # --------------------------------------------------------------------------------------------------------
    # lifecycle

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{url_id}", self._handle_response_url)
        app.router.add_post("/upload/v1/{upload_id}", self._handle_upload)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_get("/openid/connect/authorize", self._handle_authorize)
        app.router.add_get("/oauth/v2/authorize", self._handle_install_authorize)
        return app

    async def closing(self) -> None:
        """The WebSocket connections close before the server."""
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        for waiter in self._ack_waiters.values():
            waiter.cancel()
        self._ack_waiters.clear()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL, for `AsyncWebClient(base_url=...)`."""
        return f"{self.base_url}/api/"

    @property
    def workspace_url(self) -> str:
        return f"https://{self.domain}.slack.com/"

    @property
    def authorize_url(self) -> str:
        """Sign in with Slack's authorize page, for `SLACK_OIDC_AUTHORIZE_URL`."""
        return f"{self.base_url}/openid/connect/authorize"

    @property
    def install_url(self) -> str:
        """The OAuth v2 authorize page (installing the app), for `SLACK_AUTHORIZE_URL`."""
        return f"{self.base_url}/oauth/v2/authorize"

    def add_team(
        self, team_id: str, name: str, *, enterprise_id: str | None = None, enterprise_name: str | None = None
    ) -> None:
        """Another workspace the app can be installed in (of an Enterprise Grid organisation, if given).
        Users and channels are the fake's own, whatever the workspace: tests tell workspaces apart by
        the token each call used (`SlackCall.token`, `FakeInstall.bot_token`)."""
        self.teams[team_id] = (name, enterprise_id)
        if enterprise_id is not None:
            self.enterprises[enterprise_id] = enterprise_name or enterprise_id

    def install_as(
        self,
        user_id: str | None,
        *,
        team_id: str | None = None,
        enterprise_id: str | None = None,
        consents: bool = True,
    ) -> None:
        """Who opens the install page, and where they install the app: `team_id` (default: the fake's
        own workspace), or org-wide in `enterprise_id`; `consents=False` makes them press Cancel."""
        self.browser_user, self.browser_team, self.browser_org = user_id, team_id, enterprise_id
        self.consents = consents

    def install_of(self, team_id: str | None = None, *, enterprise_id: str | None = None) -> FakeInstall:
        """The latest installation in `team_id` (or org-wide in `enterprise_id`)."""
        installs = self.installs.values()
        found = [install for install in installs if self._installed_in(install, team_id, enterprise_id)]
        if not found:
            raise KeyError(team_id or enterprise_id)
        return found[-1]

    def uninstall(self, team_id: str | None = None, *, enterprise_id: str | None = None) -> None:
        """The app is uninstalled: its tokens there answer `token_revoked` from now on (the test then
        sends the `app_uninstalled` event, as Slack does)."""
        for install in self.installs.values():
            if self._installed_in(install, team_id, enterprise_id):
                install.revoked = True

    @staticmethod
    def _installed_in(install: FakeInstall, team_id: str | None, enterprise_id: str | None) -> bool:
        """In `team_id` (a workspace's own installation), or org-wide in `enterprise_id`."""
        if enterprise_id is None:
            return install.team_id == team_id
        return install.enterprise_id == enterprise_id and install.is_enterprise_install

    def sign_in_as(self, user_id: str | None, *, team_id: str | None = None, consents: bool = True) -> None:
        """Who is signed in to Slack in the browser that opens the authorize page (None: nobody, which
        the page answers with a 401 sign-in page). `team_id` puts them in another workspace than the
        bot's; `consents=False` makes them press Cancel (`error=access_denied`)."""
        self.browser_user = user_id
        self.browser_team = team_id
        self.consents = consents

    # --------------------------------------------------------------------------------------------------------
    # workspace set-up

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        locale: str = "en-US",
        tz: str = "Europe/Paris",
        tz_offset: int | None = None,
        tz_label: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        deleted: bool = False,
        is_bot: bool = False,
        team_id: str | None = None,
    ) -> FakeUser:
        """Add (or replace) a member. `name` defaults to the id in lower case, `real_name` and `display_name`
        to `name`; `tz_offset` defaults to the zone's offset at TS_BASE (winter: Europe/Paris is 3600)."""
        name = name if name is not None else user_id.lower()
        if tz_offset is None:
            try:
                offset = datetime.fromtimestamp(TS_BASE, tz=UTC).astimezone(ZoneInfo(tz)).utcoffset()
            except ZoneInfoNotFoundError:
                offset = None
            tz_offset = int(offset.total_seconds()) if offset is not None else 0
        user = FakeUser(
            id=user_id,
            name=name,
            real_name=real_name if real_name is not None else name,
            display_name=display_name if display_name is not None else name,
            email=email,
            locale=locale,
            tz=tz,
            tz_label=tz_label if tz_label is not None else TZ_LABELS.get(tz, tz),
            tz_offset=tz_offset,
            is_admin=is_admin,
            is_owner=is_owner,
            is_primary_owner=is_primary_owner,
            deleted=deleted,
            is_bot=is_bot,
            team_id=team_id,
        )
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_archived: bool = False,
        is_member: bool = True,
        is_private: bool = False,
        members: Sequence[str] = (),
        topic: str = "",
        purpose: str = "",
        announcement_only: bool = False,
        team_id: str | None = None,
    ) -> FakeChannel:
        """Add (or replace) a channel. `is_member` is whether the bot is in it; `members` its human members
        (when given, chat.postEphemeral to someone else answers `user_not_in_channel`); `announcement_only`
        lets only workspace admins post (the bot's chat.postMessage answers `restricted_action`)."""
        channel = FakeChannel(
            id=channel_id,
            name=name,
            is_archived=is_archived,
            is_member=is_member,
            is_private=is_private,
            members=list(members),
            topic=topic,
            purpose=purpose,
            announcement_only=announcement_only,
            team_id=team_id,
        )
        self.channels[channel_id] = channel
        self.messages.setdefault(channel_id, [])
        return channel

    def add_message(
        self, channel_id: str, text: str, *, user: str, blocks: list[dict[str, Any]] | None = None
    ) -> str:
        """Put a message by someone else (a member) in a channel; returns its ts."""
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "team": self.team_id,
            "text": text,
            "ts": self._next_ts(),
        }
        if blocks is not None:
            message["blocks"] = blocks
        self.messages.setdefault(channel_id, []).append(message)
        return str(message["ts"])

    def dm_channel_id(self, user_id: str) -> str:
        """The id of the bot's IM with `user_id` (opening it if needed), e.g. "D001" for "U001"."""
        for channel in self.channels.values():
            if channel.is_im and channel.user == user_id:
                return channel.id
        channel_id = "D" + (user_id[1:] if user_id[:1] in ("U", "W") else user_id)
        self.channels[channel_id] = FakeChannel(
            id=channel_id, name=channel_id, is_private=True, is_im=True, user=user_id, members=[user_id]
        )
        self.messages.setdefault(channel_id, [])
        return channel_id

    def find_message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        for message in self.messages.get(channel_id, []):
            if message.get("ts") == ts:
                return message
        return None

    # --------------------------------------------------------------------------------------------------------
    # recordings and injected behaviour

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[SlackCall]:
        """Wait until `method` was called at least `count` times; returns those calls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(calls := self.calls_to(method)) < count:
            if loop.time() >= deadline:
                raise TimeoutError(f"{method} was called {len(calls)} times within {timeout}s, not {count}")
            await asyncio.sleep(0.01)
        return calls

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        error: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` (or "response_url") fail: 429 with `Retry-After` and
        `ratelimited`; 5xx with an HTML page like Slack's edge; 200 with `{"ok": false, "error": error}`;
        another status with a JSON error body."""
        if status == 200 and error is None:
            raise ValueError("fail_next(status=200) needs an error")
        self._failures.setdefault(method, []).extend(
            _Failure(status=status, retry_after=retry_after, error=error) for _ in range(times)
        )

    def limit_channel_rate(
        self, *, burst: int = 3, per_second: float = 1.0, clock: Callable[[], float] | None = None
    ) -> None:
        """Enforce Slack's chat.postMessage limit: about `per_second` messages a second per channel, with
        bursts of `burst` (a token bucket per channel, on the real clock, or on `clock`: seconds, e.g.
        a test's injected clock); beyond it, 429 with `Retry-After: 1`. `limited` counts the refusals."""
        self._channel_limit = (burst, per_second)
        self._limit_clock = clock or self._limit_clock

    def limit_workspace_rate(
        self,
        *,
        per_minute: float = WORKSPACE_MESSAGES_PER_MINUTE,
        burst: int = WORKSPACE_BURST,
        methods: Sequence[str] = ("chat.postMessage",),
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Enforce a workspace-wide cap on `methods` (Slack: chat.postMessage, "several hundred messages
        per minute" per app and workspace, whatever the channel): one token bucket of `burst` tokens
        refilled at `per_minute` a minute, on the real clock or `clock` (seconds). Beyond it, 429 with
        `Retry-After` in whole seconds until a token is back (at least 1, as Slack never says 0), and
        `{"ok": false, "error": "ratelimited"}`. A call must pass both this and the channel's limit
        (`limit_channel_rate`); a refused call uses no token of either."""
        self._workspace_limit = (burst, per_minute / 60, frozenset(methods))
        self._workspace_bucket = None
        self._limit_clock = clock or self._limit_clock

    def random_rate_limits(
        self,
        fraction: float = 0.02,
        *,
        seed: int = 0,
        retry_after: int = 1,
        methods: Sequence[str] = ("chat.postMessage",),
    ) -> None:
        """Refuse a random `fraction` of the calls to `methods` with 429, `Retry-After: retry_after` and
        `ratelimited`, whatever the limits (Slack's limits are not exact, and a busy workspace is refused
        early), drawn from a generator seeded with `seed` so that a run can be repeated; 0 stops it."""
        if fraction <= 0:
            self._random_limit = None
        else:
            self._random_limit = (fraction, retry_after, frozenset(methods), random.Random(seed))  # noqa: S311

    def _rate_limited(self, method: str, params: dict[str, Any]) -> web.Response | None:
        """A 429 for a call over a limit (the random ones first, then the channel's and the workspace's
        buckets, which only a call that passes both takes a token from); None to answer it."""
        if self._random_limit is not None:
            fraction, retry_after, methods, draw = self._random_limit
            if method in methods and draw.random() < fraction:
                return self._refuse("random", retry_after)
        now = self._limit_clock()
        channel_refill: tuple[str, float] | None = None
        if self._channel_limit is not None and method == "chat.postMessage":
            burst, rate = self._channel_limit
            channel = str(params.get("channel", ""))
            tokens, at = self._channel_buckets.get(channel, (float(burst), now))
            tokens = min(float(burst), tokens + (now - at) * rate)
            self._channel_buckets[channel] = (tokens, now)
            if tokens < 1:
                return self._refuse("channel", 1)
            channel_refill = (channel, tokens)
        if self._workspace_limit is not None and method in self._workspace_limit[2]:
            burst, rate, _ = self._workspace_limit
            tokens, at = self._workspace_bucket or (float(burst), now)
            tokens = min(float(burst), tokens + (now - at) * rate)
            self._workspace_bucket = (tokens, now)
            if tokens < 1:
                return self._refuse("workspace", max(1, math.ceil((1 - tokens) / rate)))
            self._workspace_bucket = (tokens - 1, now)
        if channel_refill is not None:
            channel, tokens = channel_refill
            self._channel_buckets[channel] = (tokens - 1, now)
        return None

    def _refuse(self, cause: str, retry_after: int) -> web.Response:
        self.limited += 1
        self.refused[cause] += 1
        return self._failure_response(_Failure(status=429, retry_after=retry_after, error=None))

    def deactivate_token(self, error: str = "account_inactive") -> None:
        """From now on every call with the bot token answers `error`: the bot user or the workspace was
        deleted (Slack says `account_inactive`; `token_revoked` after an uninstall)."""
        self.token_error = error

    def delay(self, method: str, seconds: float) -> None:
        """Answer `method` (or "response_url") only after `seconds`, until `reset()`; 0 removes the delay."""
        if seconds <= 0:
            self._delays.pop(method, None)
        else:
            self._delays[method] = seconds

    def reset(self) -> None:
        """Forget recordings (calls, responses, ephemerals, socket messages) and injected failures and delays;
        keep the workspace (users, channels, messages, views)."""
        self.calls.clear()
        self.responses.clear()
        self.ephemerals.clear()
        self.socket_sent.clear()
        self.socket_received.clear()
        self.socket_acks.clear()
        self._failures.clear()
        self._delays.clear()

    def response_url(
        self,
        name: str | None = None,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        user: str | None = None,
    ) -> str:
        """A response_url on the fake. POSTs to it are recorded in `responses` (with `"url_id": name`);
        when `channel` is given they also act on it as Slack does: `delete_original` / `replace_original`
        (the message `message_ts`), `response_type: in_channel` posts a message, otherwise an ephemeral
        for `user`."""
        if name is None:
            self._id_counter += 1
            name = f"R{self._id_counter:06d}"
        self._response_targets[name] = _ResponseTarget(channel=channel, message_ts=message_ts, user=user)
        return f"{self.base_url}/response/{name}"

    def responses_to(self, name: str) -> list[dict[str, Any]]:
        return [response for response in self.responses if response["url_id"] == name]

    # --------------------------------------------------------------------------------------------------------
    # Socket Mode

    @property
    def socket_connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    async def socket_wait_connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await asyncio.wait_for(self.socket_connected_event.wait(), timeout)

    async def socket_send(
        self, envelope_type: str, payload: dict[str, Any], *, accepts_response_payload: bool = True
    ) -> str:
        """Send an envelope ("events_api", "slash_commands", "interactive") to the connected client; returns
        its envelope id."""
        envelope_id = str(uuid.uuid4())
        await self._socket_send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": payload,
                "accepts_response_payload": accepts_response_payload,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    async def socket_wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The client's acknowledgement `{"envelope_id": ..., "payload": ...?}` of an envelope."""
        if envelope_id in self.socket_acks:
            return self.socket_acks[envelope_id]
        waiter = self._ack_waiters.get(envelope_id)
        if waiter is None:
            waiter = asyncio.get_running_loop().create_future()
            self._ack_waiters[envelope_id] = waiter
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            raise TimeoutError(f"no ack for envelope {envelope_id} within {timeout}s") from None

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send Slack's `disconnect` message: the client should fetch a new URL and reconnect."""
        await self._socket_send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake-1"}}
        )

    async def socket_close(self) -> None:
        """Drop every WebSocket connection from the server side."""
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"bye")

    async def _socket_send_json(self, message: dict[str, Any]) -> None:
        open_sockets = [ws for ws in self._sockets if not ws.closed]
        if not open_sockets:
            raise RuntimeError("no Socket Mode client is connected")
        await open_sockets[-1].send_str(json.dumps(message))
        self.socket_sent.append(message)

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket")
        if ticket is None or ticket not in self._tickets:
            return web.Response(status=401, text="invalid_ticket")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.socket_connections += 1
        hello = {
            "type": "hello",
            "num_connections": len([s for s in self._sockets if not s.closed]),
            "debug_info": {
                "host": "applink-fake-1",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        await ws.send_str(json.dumps(hello))
        self.socket_sent.append(hello)
        self.socket_connected_event.set()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if not isinstance(data, dict):
                    continue
                self.socket_received.append(data)
                envelope_id = data.get("envelope_id")
                if isinstance(envelope_id, str):
                    self.socket_acks[envelope_id] = data
                    waiter = self._ack_waiters.pop(envelope_id, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(data)
        finally:
            self._sockets.remove(ws)
            if not self.socket_connected:
                self.socket_connected_event.clear()
        return ws

    # --------------------------------------------------------------------------------------------------------
    # HTTP plumbing

    def _json(self, body: dict[str, Any], *, status: int = 200, token: str | None = None) -> web.Response:
        headers = {"X-Slack-Req-Id": uuid.uuid4().hex}
        if token is not None and (token == self.bot_token or token in self.installs):
            headers["X-OAuth-Scopes"] = ",".join(self.scopes)
        return web.json_response(body, status=status, headers=headers)

    def _failure_response(self, failure: _Failure) -> web.Response:
        if failure.status == 429:
            response = self._json({"ok": False, "error": failure.error or "ratelimited"}, status=429)
            if failure.retry_after is not None:
                response.headers["Retry-After"] = str(failure.retry_after)
            return response
        if failure.status >= 500:
            return web.Response(
                status=failure.status, text=_edge_error_page(failure.status), content_type="text/html"
            )
        return self._json({"ok": False, "error": failure.error or "request_failed"}, status=failure.status)

    async def _injected(self, method: str) -> web.Response | None:
        seconds = self._delays.get(method)
        if seconds:
            await asyncio.sleep(seconds)
        queue = self._failures.get(method)
        if queue:
            return self._failure_response(queue.pop(0))
        return None

    @staticmethod
    async def _read_params(request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.body_exists:
            content_type = request.content_type
            if content_type == "application/json":
                raw = await request.text()
                try:
                    body = json.loads(raw) if raw.strip() else {}
                except ValueError:
                    raise _SlackError("invalid_json") from None
                if not isinstance(body, dict):
                    raise _SlackError("invalid_json")
                params.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, str):
                        params[key] = value
                    elif isinstance(value, bytes | bytearray):
                        params[key] = bytes(value).decode("utf-8", "replace")
                    else:
                        params[key] = {
                            "filename": value.filename,
                            "content_type": value.content_type,
                            "content": value.file.read(),
                        }
        for key in JSON_ENCODED_FIELDS:
            encoded = params.get(key)
            if isinstance(encoded, str):
                # Undecodable JSON stays a string: the method answers e.g. invalid_blocks_format.
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(encoded)
        return params

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        headers = dict(request.headers)
        token: str | None = None
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip() or None
        parse_error: _SlackError | None = None
        try:
            params = await self._read_params(request)
        except _SlackError as error:
            params, parse_error = {}, error
        body_token = params.pop("token", None)
        if token is None and isinstance(body_token, str) and body_token:
            token = body_token
        call = SlackCall(
            method=method,
            params=params,
            token=token,
            headers=headers,
            http_method=request.method,
            content_type=request.content_type if request.body_exists else "",
        )
        self.calls.append(call)

        injected = await self._injected(method)
        if injected is not None:
            return injected
        limited = self._rate_limited(method, params)
        if limited is not None:
            return limited
        try:
            if parse_error is not None:
                raise parse_error
            handler = self._handlers.get(method)
            if handler is None:
                raise _SlackError("unknown_method", req_method=method)
            self._authenticate(method, token)
            payload = handler(call)
        except _SlackError as error:
            return self._json({"ok": False, "error": error.error, **error.extra}, token=token)
        self.accepted[method] += 1
        return self._json({"ok": True, **payload}, token=token)

    def _authenticate(self, method: str, token: str | None) -> None:
        if method in ("api.test", "openid.connect.token", "oauth.v2.access"):
            return  # the token methods authenticate the client (`_openid_connect_token`, `_oauth_v2_access`)
        if method == "openid.connect.userInfo":
            if not token:
                raise _SlackError("not_authed")
            if token not in self._oidc_tokens:
                raise _SlackError("invalid_auth")
            return
        if not token:
            raise _SlackError("not_authed")
        install = self.installs.get(token)
        if install is not None and method != "apps.connections.open":
            if install.revoked:
                raise _SlackError("token_revoked")
            return
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token == expected:
            if token == self.bot_token and self.token_error is not None:
                raise _SlackError(self.token_error)
            return
        if token in (self.app_token, self.bot_token):
            raise _SlackError("not_allowed_token_type")
        raise _SlackError("invalid_auth")

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        url_id = request.match_info["url_id"]
        raw = await request.text()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        self.responses.append({"url_id": url_id, **body})
        injected = await self._injected(RESPONSE_URL)
        if injected is not None:
            return injected
        try:
            self._check_blocks(body.get("blocks"))
        except _SlackError as error:  # response URLs answer errors as plain text, like incoming webhooks
            return web.Response(status=400, text=error.error)
        target = self._response_targets.get(url_id)
        if target is not None and target.channel is not None:
            self._apply_response(target, body)
        return self._json({"ok": True})

    def _apply_response(self, target: _ResponseTarget, body: dict[str, Any]) -> None:
        channel_id = target.channel
        assert channel_id is not None
        original = self.find_message(channel_id, target.message_ts) if target.message_ts else None
        if _flag(body.get("delete_original")):
            if original is not None:
                self.messages[channel_id].remove(original)
        elif _flag(body.get("replace_original")) and original is not None:
            original["text"] = body.get("text", "")
            original["blocks"] = body.get("blocks", [])
            if body.get("attachments") is not None:
                original["attachments"] = body["attachments"]
            original["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        elif body.get("response_type") == "in_channel":
            message = self._bot_message(body.get("text") or "", body.get("blocks"), body.get("attachments"))
            if body.get("thread_ts"):
                message["thread_ts"] = body["thread_ts"]
            self.messages.setdefault(channel_id, []).append(message)
        else:
            self.ephemerals.append(
                {
                    "channel": channel_id,
                    "user": target.user,
                    "text": body.get("text", ""),
                    "blocks": body.get("blocks"),
                    "attachments": body.get("attachments"),
                    "thread_ts": body.get("thread_ts"),
                    "ts": self._next_ts(),
                    "source": RESPONSE_URL,
                }
            )

    # --------------------------------------------------------------------------------------------------------
    # helpers for the methods

    def _next_ts(self) -> str:
        self._ts_counter += 1
        micros = self._ts_counter * 100
        return f"{TS_BASE + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        self._id_counter += 1
        return f"{prefix}{self._id_counter:08d}"

    @staticmethod
    def _param(call: SlackCall, name: str) -> str | None:
        value = call.params.get(name)
        if value is None or value == "":
            return None
        return str(value)

    @staticmethod
    def _encode_cursor(kind: str, item_id: str) -> str:
        return base64.b64encode(f"{kind}:{item_id}".encode()).decode()

    def _page(self, call: SlackCall, ids: list[str], kind: str, default_limit: int) -> tuple[list[str], str]:
        """Cursor pagination as Slack does it: the cursor is base64("<kind>:<id of the next item>")."""
        raw_limit = call.params.get("limit")
        try:
            limit = int(raw_limit) if raw_limit not in (None, "") else default_limit
        except (TypeError, ValueError):
            raise _SlackError("invalid_limit") from None
        if limit <= 0:
            limit = default_limit  # 0: everything (users.list without a limit)
        start = 0
        cursor = self._param(call, "cursor")
        if cursor is not None:
            try:
                decoded = base64.b64decode(cursor.encode(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise _SlackError("invalid_cursor") from None
            prefix, _, item_id = decoded.partition(":")
            if prefix != kind or item_id not in ids:
                raise _SlackError("invalid_cursor")
            start = ids.index(item_id)
        page = ids[start : start + min(limit, 1000)] if limit > 0 else ids[start:]
        following = start + len(page)
        next_cursor = self._encode_cursor(kind, ids[following]) if following < len(ids) else ""
        return page, next_cursor

    def _user_object(self, user: FakeUser, *, include_locale: bool) -> dict[str, Any]:
        first, _, last = user.real_name.partition(" ")
        images = {
            f"image_{size}": f"https://avatars.slack-edge.com/fake/{user.id}_{size}.png"
            for size in (24, 32, 48, 72, 192, 512)
        }
        profile: dict[str, Any] = {
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.display_name,
            "display_name_normalized": user.display_name,
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": f"g{user.id.lower()}",
            "first_name": first,
            "last_name": last,
            **images,
            "team": self.team_id,
        }
        if user.email is not None:
            profile["email"] = user.email
        if user.bot_id is not None:
            profile["bot_id"] = user.bot_id
            profile["api_app_id"] = self.app_id
            profile["always_active"] = False
        obj: dict[str, Any] = {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "color": "9f69e7",
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": user.tz_label,
            "tz_offset": user.tz_offset,
            "profile": profile,
            "is_admin": user.is_admin,
            "is_owner": user.is_owner,
            "is_primary_owner": user.is_primary_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": TS_BASE - 86400,
            "is_email_confirmed": True,
            "who_can_share_contact_card": "EVERYONE",
        }
        if include_locale:
            obj["locale"] = user.locale
        return obj

    def _channel_object(self, channel: FakeChannel, *, include_num_members: bool = False) -> dict[str, Any]:
        if channel.is_im:
            user = self.users.get(channel.user or "")
            return {
                "id": channel.id,
                "created": channel.created,
                "is_archived": False,
                "is_im": True,
                "is_org_shared": False,
                "context_team_id": self.team_id,
                "updated": channel.created * 1000,
                "user": channel.user,
                "is_user_deleted": bool(user and user.deleted),
                "priority": 0,
            }
        obj: dict[str, Any] = {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not channel.is_private and not channel.is_mpim,
            "is_group": channel.is_private and not channel.is_mpim,
            "is_im": False,
            "is_mpim": channel.is_mpim,
            "is_private": channel.is_private,
            "created": channel.created,
            "is_archived": channel.is_archived,
            "is_general": channel.name == "general",
            "unlinked": 0,
            "name_normalized": channel.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": self.team_id,
            "updated": channel.created * 1000,
            "parent_conversation": None,
            "creator": self.bot_user_id,
            "is_ext_shared": False,
            "shared_team_ids": [self.team_id],
            "pending_connected_team_ids": [],
            "is_member": channel.is_member,
            "topic": {"value": channel.topic, "creator": "", "last_set": 0},
            "purpose": {"value": channel.purpose, "creator": "", "last_set": 0},
            "previous_names": [],
        }
        if include_num_members:
            obj["num_members"] = len(self._member_ids(channel))
        return obj

    def _member_ids(self, channel: FakeChannel) -> list[str]:
        if channel.is_im:
            return [m for m in (channel.user, self.bot_user_id) if m is not None]
        members = list(channel.members)
        if channel.is_member and self.bot_user_id not in members:
            members.append(self.bot_user_id)
        return members

    def _visible_channel(self, channel_id: str | None, call: SlackCall | None = None) -> FakeChannel:
        """A conversation by id, as the bot may see it (private ones only when a member; with `call`,
        only of a workspace its token sees)."""
        channel = self.channels.get(channel_id or "")
        if channel is None or (channel.is_private and not channel.is_member and not channel.is_im):
            raise _SlackError("channel_not_found")
        if call is not None and not self._seen(call, channel.team_id):
            raise _SlackError("channel_not_found")
        return channel

    def _channel_for_post(self, call: SlackCall, *, allow_user: bool) -> FakeChannel:
        """The conversation a chat.* call targets: an id, "#name" (or a bare name), or a user id (its IM)."""
        value = self._param(call, "channel")
        if value is None:
            raise _SlackError("channel_not_found")
        channel: FakeChannel | None = None
        if value.startswith("#"):
            channel = next((c for c in self.channels.values() if c.name == value[1:] and not c.is_im), None)
        elif value in self.channels:
            channel = self.channels[value]
        elif allow_user and value in self.users:
            user = self.users[value]
            if user.deleted or not self._seen(call, user.team_id):
                raise _SlackError("user_not_found")
            channel = self.channels[self.dm_channel_id(value)]
        else:
            channel = next((c for c in self.channels.values() if c.name == value and not c.is_im), None)
        if channel is None or (channel.is_private and not channel.is_member and not channel.is_im):
            raise _SlackError("channel_not_found")
        if not self._seen(call, channel.team_id):
            raise _SlackError("channel_not_found")
        if channel.is_archived:
            raise _SlackError("is_archived")
        if not channel.is_member and not channel.is_im:
            raise _SlackError("not_in_channel")
        return channel

    def _check_blocks(self, blocks: Any) -> None:
        """A message's blocks as Slack checks them: the schema's limits, then the total size; guideline
        breaches are recorded in `violations`."""
        if blocks is None:
            return
        if isinstance(blocks, str):
            raise _SlackError("invalid_blocks_format")
        errors = _block_errors(blocks, "/blocks", MESSAGE_MAX_BLOCKS)
        if errors:
            raise _SlackError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        if _blocks_text_length(blocks) > MESSAGE_MAX_BLOCKS_TEXT:
            raise _SlackError("msg_blocks_too_long")
        self.violations += _guideline_violations(blocks, "/blocks")

    def _content(
        self, call: SlackCall, *, required: bool
    ) -> tuple[str | None, list[Any] | None, list[Any] | None]:
        raw_text = call.params.get("text")
        text = None if raw_text is None else str(raw_text)
        blocks = call.params.get("blocks")
        attachments = call.params.get("attachments")
        self._check_blocks(blocks)
        if attachments is not None and not isinstance(attachments, list):
            raise _SlackError("invalid_attachments")
        if required and not text and not blocks and not attachments:
            raise _SlackError("no_text")
        if text is not None and len(text) > MESSAGE_MAX_TEXT:
            raise _SlackError("msg_too_long")
        return text, blocks, attachments

    def _bot_message(
        self, text: str, blocks: list[Any] | None, attachments: list[Any] | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": text,
            "ts": self._next_ts(),
        }
        if blocks:
            message["blocks"] = blocks
        if attachments:
            message["attachments"] = attachments
        return message

    def _message(self, call: SlackCall, channel_id: str, name: str = "ts") -> dict[str, Any]:
        ts = self._param(call, name)
        if ts is None:
            raise _SlackError("message_not_found")
        message = self.find_message(channel_id, ts)
        if message is None:
            raise _SlackError("message_not_found")
        return message

    # --------------------------------------------------------------------------------------------------------
    # Web API methods

    def _api_test(self, call: SlackCall) -> dict[str, Any]:
        args = dict(call.params)
        if "error" in args:
            raise _SlackError(str(args["error"]), args=args)
        return {"args": args}

    def _auth_test(self, call: SlackCall) -> dict[str, Any]:
        install = self.installs.get(call.token or "")
        if install is not None:
            return {
                "url": self.workspace_url,
                "team": install.team_name,
                "user": self.bot_name,
                "team_id": install.team_id,
                "user_id": install.bot_user_id,
                "bot_id": install.bot_id,
                "enterprise_id": install.enterprise_id,
                "is_enterprise_install": install.is_enterprise_install,
            }
        return {
            "url": self.workspace_url,
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _page_visited(self, request: web.Request, method: str) -> Mapping[str, str]:
        """A browser's visit to one of Slack's pages (`method`: its path), recorded as a call (no token);
        its query."""
        self.calls.append(
            SlackCall(
                method=method,
                params=dict(request.query),
                token=None,
                headers=dict(request.headers),
                http_method="GET",
            )
        )
        return request.query

    # Sign in with Slack (OpenID Connect)

    # Installs (OAuth v2)

    async def _handle_install_authorize(self, request: web.Request) -> web.StreamResponse:
        """Slack's install page (`oauth/v2/authorize`), as the browser of whoever `install_as` names sees
        it: it checks the client id, scopes and redirect URI and, once they allow it, redirects to the
        redirect URI with a single-use code and the state (`error=access_denied` when they cancel)."""
        query = self._page_visited(request, "oauth/v2/authorize")
        redirect_uri = query.get("redirect_uri", "")
        if (
            query.get("client_id") != self.client_id
            or not query.get("scope")
            or not redirect_uri.startswith(("http://", "https://"))
        ):
            return web.Response(status=400, text="<h1>Invalid request</h1>", content_type="text/html")
        if self.browser_user is None or self.browser_user not in self.users:
            return web.Response(status=401, text="<h1>Sign in to Slack</h1>", content_type="text/html")
        back: dict[str, str] = {"state": query.get("state", "")}
        if self.consents:
            code = f"install.{uuid.uuid4().hex}"
            team = None if self.browser_org else (self.browser_team or query.get("team") or self.team_id)
            enterprise = self.browser_org or (self.teams.get(team or "", ("", None))[1])
            self._install_codes[code] = _InstallGrant(
                user_id=self.browser_user,
                team_id=team,
                enterprise_id=enterprise,
                redirect_uri=redirect_uri,
                scopes=query.get("scope", ""),
            )
            back["code"] = code
        else:
            back["error"] = "access_denied"
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(redirect_uri + separator + urlencode(back))

    def _oauth_v2_access(self, call: SlackCall) -> dict[str, Any]:
        """The code exchange (client id and secret by HTTP Basic, as slack_sdk sends them, or form fields):
        a new bot token for the workspace (or organisation) the code was given for. Errors as Slack's:
        `invalid_client_id`, `bad_client_secret`, `invalid_code` (unknown or used), `bad_redirect_uri`."""
        client_id, secret = self._oidc_client(call)
        if client_id != self.client_id:
            raise _SlackError("invalid_client_id")
        if secret != self.client_secret:
            raise _SlackError("bad_client_secret")
        if self._param(call, "grant_type") == "refresh_token":
            return self._refreshed(call)
        if self._param(call, "grant_type") not in (None, "authorization_code"):
            raise _SlackError("invalid_grant_type")
        grant = self._install_codes.pop(self._param(call, "code") or "", None)
        if grant is None:
            raise _SlackError("invalid_code")
        if self._param(call, "redirect_uri") not in (None, grant.redirect_uri):
            raise _SlackError("bad_redirect_uri")
        where = grant.team_id or grant.enterprise_id or ""
        own = grant.team_id == self.team_id
        install = FakeInstall(
            team_id=grant.team_id,
            team_name=self.teams.get(grant.team_id or "", (None, None))[0],
            enterprise_id=grant.enterprise_id,
            enterprise_name=self.enterprises.get(grant.enterprise_id or ""),
            is_enterprise_install=grant.team_id is None,
            bot_token=f"xoxb-{where.lower()}-{uuid.uuid4().hex}",
            bot_user_id=self.bot_user_id if own else f"UB{where}",
            bot_id=self.bot_id if own else f"B{where}",
            installer=grant.user_id,
        )
        self.installs[install.bot_token] = install
        if self.token_lifetime is not None:
            install.refresh_token = f"xoxe-1-{uuid.uuid4().hex}"
        return {
            **self._rotation(install),
            "access_token": install.bot_token,
            "token_type": "bot",
            "scope": grant.scopes,
            "bot_user_id": install.bot_user_id,
            "app_id": self.app_id,
            "team": {"id": install.team_id, "name": install.team_name} if install.team_id else None,
            "enterprise": (
                {"id": install.enterprise_id, "name": install.enterprise_name}
                if install.enterprise_id
                else None
            ),
            "authed_user": {"id": grant.user_id},
            "is_enterprise_install": install.is_enterprise_install,
        }

    def _rotation(self, install: FakeInstall) -> dict[str, Any]:
        if install.refresh_token is None or self.token_lifetime is None:
            return {}
        return {"refresh_token": install.refresh_token, "expires_in": self.token_lifetime}

    def _refreshed(self, call: SlackCall) -> dict[str, Any]:
        """Token rotation: a new bot token and refresh token for a refresh token (used once); the old
        bot token keeps working until it would have expired (the fake does not expire it)."""
        refresh = self._param(call, "refresh_token") or ""
        install = next((i for i in self.installs.values() if refresh and i.refresh_token == refresh), None)
        if install is None or install.revoked:
            raise _SlackError("invalid_refresh_token")
        install.refresh_token = None
        renewed = copy.copy(install)
        renewed.bot_token = (
            f"xoxb-{(install.team_id or install.enterprise_id or '').lower()}-{uuid.uuid4().hex}"
        )
        renewed.refresh_token = f"xoxe-1-{uuid.uuid4().hex}"
        self.installs[renewed.bot_token] = renewed
        return {
            **self._rotation(renewed),
            "access_token": renewed.bot_token,
            "token_type": "bot",
            "scope": ",".join(self.scopes),
            "bot_user_id": renewed.bot_user_id,
            "app_id": self.app_id,
            "team": {"id": renewed.team_id, "name": renewed.team_name} if renewed.team_id else None,
            "enterprise": {"id": renewed.enterprise_id} if renewed.enterprise_id else None,
            "is_enterprise_install": renewed.is_enterprise_install,
        }

    async def _handle_authorize(self, request: web.Request) -> web.StreamResponse:
        """Slack's authorize page, as the browser of whoever `sign_in_as` names sees it: it checks the
        request (client id, response type, scope, redirect URI) and, once they consent, redirects to
        the redirect URI with a single-use code and the state."""
        query = self._page_visited(request, "openid/connect/authorize")
        redirect_uri = query.get("redirect_uri", "")
        scopes = set(query.get("scope", "").split())
        if (
            query.get("client_id") != self.client_id
            or query.get("response_type") != "code"
            or "openid" not in scopes
            or not scopes <= {"openid", "profile", "email"}
            or not redirect_uri.startswith(("http://", "https://"))
            or ("code_challenge" in query and query.get("code_challenge_method") != "S256")
        ):
            return web.Response(status=400, text="<h1>Invalid request</h1>", content_type="text/html")
        if self.browser_user is None or self.browser_user not in self.users:
            return web.Response(status=401, text="<h1>Sign in to Slack</h1>", content_type="text/html")
        back: dict[str, str] = {"state": query.get("state", "")}
        if self.consents:
            code = f"{self.team_id}.{uuid.uuid4().hex}"
            self._oidc_codes[code] = _OidcGrant(
                user_id=self.browser_user,
                team_id=self.browser_team or self.team_id,
                nonce=query.get("nonce"),
                redirect_uri=redirect_uri,
                scopes=frozenset(scopes),
                code_challenge=query.get("code_challenge"),
            )
            back["code"] = code
        else:
            back["error"] = "access_denied"
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(redirect_uri + separator + urlencode(back))

    def _oidc_client(self, call: SlackCall) -> tuple[str | None, str | None]:
        """The client id and secret: HTTP Basic (as slack_sdk sends them) or form parameters."""
        authorization = call.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            client_id, _, secret = decoded.partition(":")
            return client_id, secret
        return self._param(call, "client_id"), self._param(call, "client_secret")

    def _openid_connect_token(self, call: SlackCall) -> dict[str, Any]:
        client_id, secret = self._oidc_client(call)
        if client_id != self.client_id:
            raise _SlackError("invalid_client_id")
        if secret != self.client_secret:
            raise _SlackError("bad_client_secret")
        grant = self._oidc_codes.pop(self._param(call, "code") or "", None)
        if grant is None:
            raise _SlackError("invalid_code")
        if self._param(call, "redirect_uri") != grant.redirect_uri:
            raise _SlackError("bad_redirect_uri")
        if (
            grant.code_challenge is not None
            and _s256(self._param(call, "code_verifier")) != grant.code_challenge
        ):
            raise _SlackError("invalid_code_verifier")
        access_token = f"xoxp-{uuid.uuid4().hex}"
        self._oidc_tokens[access_token] = grant
        now = int(time.time())
        claims = {
            "iss": "https://slack.com",
            "sub": grant.user_id,
            "aud": self.client_id,
            "exp": now + 3600,
            "iat": now,
            "auth_time": now,
            "at_hash": uuid.uuid4().hex[:22],
            **self._oidc_claims(grant),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims.update(self.next_id_token_claims)
        self.next_id_token_claims = {}
        id_token = jwt.encode(claims, self.client_secret, algorithm="HS256")
        return {"access_token": access_token, "token_type": "Bearer", "id_token": id_token}

    def _openid_connect_user_info(self, call: SlackCall) -> dict[str, Any]:
        grant = self._oidc_tokens[call.token or ""]
        return {"sub": grant.user_id, **self._oidc_claims(grant)}

    def _oidc_claims(self, grant: _OidcGrant) -> dict[str, Any]:
        """Slack's claims about the person (openid.connect.userInfo, and the ID token)."""
        user = self.users[grant.user_id]
        first, _, last = user.real_name.partition(" ")
        claims: dict[str, Any] = {
            "https://slack.com/user_id": user.id,
            "https://slack.com/team_id": grant.team_id,
            "https://slack.com/team_name": self.team_name,
            "https://slack.com/team_domain": self.domain,
        }
        if "profile" in grant.scopes:
            claims.update(
                {
                    "name": user.real_name,
                    "given_name": first,
                    "family_name": last,
                    "picture": f"https://avatars.slack-edge.com/fake/{user.id}_512.png",
                    "locale": user.locale,
                }
            )
        if "email" in grant.scopes and user.email is not None:
            claims.update({"email": user.email, "email_verified": True})
        return claims

    def _apps_connections_open(self, call: SlackCall) -> dict[str, Any]:
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={self.app_id}"}

    def _seen(self, call: SlackCall, team_id: str | None) -> bool:
        """Whether the calling token sees what belongs to workspace `team_id` (None: every workspace
        does): an install's token its own workspace's, an organisation's its workspaces', the app's
        SLACK_BOT_TOKEN the default workspace's. Another workspace's ids are unknown to it."""
        if team_id is None:
            return True
        install = self.installs.get(call.token or "")
        if install is None:
            return team_id == self.team_id
        if install.is_enterprise_install:
            return self.teams.get(team_id, ("", None))[1] == install.enterprise_id
        return team_id == install.team_id

    def _users_info(self, call: SlackCall) -> dict[str, Any]:
        user = self.users.get(self._param(call, "user") or "")
        if user is not None and not self._seen(call, user.team_id):
            user = None
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": self._user_object(user, include_locale=_flag(call.params.get("include_locale")))}

    def _users_list(self, call: SlackCall) -> dict[str, Any]:
        page, next_cursor = self._page(call, list(self.users), "user", default_limit=0)
        include_locale = _flag(call.params.get("include_locale"))
        return {
            "members": [self._user_object(self.users[i], include_locale=include_locale) for i in page],
            "cache_ts": TS_BASE,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _users_lookup_by_email(self, call: SlackCall) -> dict[str, Any]:
        email = (self._param(call, "email") or "").lower()
        for user in self.users.values():
            if user.email is not None and user.email.lower() == email:
                return {"user": self._user_object(user, include_locale=False)}
        raise _SlackError("users_not_found")

    def _conversations_info(self, call: SlackCall) -> dict[str, Any]:
        channel = self._visible_channel(self._param(call, "channel"), call)
        obj = self._channel_object(channel, include_num_members=_flag(call.params.get("include_num_members")))
        if _flag(call.params.get("include_locale")):
            obj["locale"] = "en-US"
        return {"channel": obj}

    def _conversations_list(self, call: SlackCall) -> dict[str, Any]:
        types = {t.strip() for t in (self._param(call, "types") or "public_channel").split(",") if t.strip()}
        unknown = types - {"public_channel", "private_channel", "im", "mpim"}
        if unknown:
            raise _SlackError("invalid_types")
        exclude_archived = _flag(call.params.get("exclude_archived"))
        install = self.installs.get(call.token or "")
        team = self._param(call, "team_id")
        if install is not None and install.is_enterprise_install and not team:
            raise _SlackError("missing_argument")  # an org-wide token names the workspace to list

        def listed(channel: FakeChannel) -> bool:
            if not self._seen(call, channel.team_id) or (team and channel.team_id not in (None, team)):
                return False
            if exclude_archived and channel.is_archived:
                return False
            if channel.is_im:
                return "im" in types
            if channel.is_mpim:
                return "mpim" in types and channel.is_member
            if channel.is_private:
                return "private_channel" in types and channel.is_member
            return "public_channel" in types

        ids = [c.id for c in self.channels.values() if listed(c)]
        page, next_cursor = self._page(call, ids, "channel", default_limit=100)
        return {
            "channels": [self._channel_object(self.channels[i]) for i in page],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_members(self, call: SlackCall) -> dict[str, Any]:
        channel = self._visible_channel(self._param(call, "channel"), call)
        page, next_cursor = self._page(call, self._member_ids(channel), "user", default_limit=100)
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_history(self, call: SlackCall) -> dict[str, Any]:
        """The conversation's latest messages, newest first (`limit`, 100 by default; no older pages), with
        their metadata only when `include_all_metadata` is set, as Slack does."""
        channel = self._visible_channel(self._param(call, "channel"), call)
        limit = int(self._param(call, "limit") or 100)
        stored = self.messages.get(channel.id, [])
        with_metadata = _flag(call.params.get("include_all_metadata"))
        messages = []
        for message in reversed(stored[-limit:]):
            shown = copy.deepcopy(message)
            if not with_metadata:
                shown.pop("metadata", None)
            messages.append(shown)
        return {
            "messages": messages,
            "has_more": len(stored) > limit,
            "pin_count": 0,
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_join(self, call: SlackCall) -> dict[str, Any]:
        channel = self._visible_channel(self._param(call, "channel"), call)
        if channel.is_im or channel.is_mpim or channel.is_private:
            raise _SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise _SlackError("is_archived")
        if channel.is_member:
            return {
                "channel": self._channel_object(channel),
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.is_member = True
        return {"channel": self._channel_object(channel)}

    def _conversations_open(self, call: SlackCall) -> dict[str, Any]:
        return_im = _flag(call.params.get("return_im"))
        existing = self._param(call, "channel")
        raw_users = call.params.get("users")
        if existing is not None:
            channel = self._visible_channel(existing, call)
            return {"no_op": True, "already_open": True, "channel": self._channel_object(channel)}
        if isinstance(raw_users, list):
            user_ids = [str(u) for u in raw_users]
        else:
            user_ids = [u.strip() for u in str(raw_users or "").split(",") if u.strip()]
        if not user_ids:
            raise _SlackError("users_list_not_supplied")
        if len(user_ids) > 8:
            raise _SlackError("too_many_users")
        for user_id in user_ids:
            user = self.users.get(user_id)
            if user is None or not self._seen(call, user.team_id):
                raise _SlackError("user_not_found")
            if user.deleted:
                raise _SlackError("user_disabled")
            if user_id == self.bot_user_id:
                raise _SlackError("cannot_dm_bot")
        if len(user_ids) == 1:
            already_open = any(c.is_im and c.user == user_ids[0] for c in self.channels.values())
            channel = self.channels[self.dm_channel_id(user_ids[0])]
        else:
            wanted = set(user_ids)
            found = next((c for c in self.channels.values() if c.is_mpim and set(c.members) == wanted), None)
            already_open = found is not None
            if found is None:
                channel_id = self._next_id("G")
                name = "mpdm-" + "--".join(self.users[u].name for u in user_ids) + "-1"
                found = FakeChannel(id=channel_id, name=name, is_private=True, is_mpim=True, members=user_ids)
                self.channels[channel_id] = found
                self.messages.setdefault(channel_id, [])
            channel = found
        result: dict[str, Any] = {}
        if already_open:
            result.update(no_op=True, already_open=True)
        result["channel"] = (
            self._channel_object(channel) if return_im or channel.is_mpim else {"id": channel.id}
        )
        return result

    def _chat_post_message(self, call: SlackCall) -> dict[str, Any]:
        channel = self._channel_for_post(call, allow_user=True)
        if channel.announcement_only:
            raise _SlackError("restricted_action")
        text, blocks, attachments = self._content(call, required=True)
        message = self._bot_message(text or "", blocks, attachments)
        for optional in ("username", "icon_emoji", "icon_url", "metadata"):
            if call.params.get(optional) is not None:
                message[optional] = call.params[optional]
        thread_ts = self._param(call, "thread_ts")
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
            parent = self.find_message(channel.id, thread_ts)
            if parent is not None:
                message["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                parent["latest_reply"] = message["ts"]
        self.messages.setdefault(channel.id, []).append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_post_ephemeral(self, call: SlackCall) -> dict[str, Any]:
        channel = self._channel_for_post(call, allow_user=False)
        user_id = self._param(call, "user")
        user = self.users.get(user_id or "")
        if user is None or user.deleted:
            raise _SlackError("user_not_found")
        if channel.is_im and channel.user != user_id:
            raise _SlackError("user_not_in_channel")
        if not channel.is_im and channel.members and user_id not in channel.members:
            raise _SlackError("user_not_in_channel")
        text, blocks, attachments = self._content(call, required=True)
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel.id,
                "user": user_id,
                "text": text or "",
                "blocks": blocks,
                "attachments": attachments,
                "thread_ts": self._param(call, "thread_ts"),
                "ts": ts,
                "source": "chat.postEphemeral",
            }
        )
        return {"message_ts": ts}

    def _chat_update(self, call: SlackCall) -> dict[str, Any]:
        channel = self._visible_channel(self._param(call, "channel"), call)
        message = self._message(call, channel.id)
        if message.get("user") != self.bot_user_id:
            raise _SlackError("cant_update_message")
        if channel.is_archived:
            raise _SlackError("is_archived")
        text, blocks, attachments = self._content(call, required=False)
        if text is None and blocks is None and attachments is None:
            raise _SlackError("no_text")
        if text is not None:
            message["text"] = text
        if blocks is not None:  # an empty list removes the blocks; leaving them out keeps them
            if blocks:
                message["blocks"] = blocks
            else:
                message.pop("blocks", None)
        if attachments is not None:
            if attachments:
                message["attachments"] = attachments
            else:
                message.pop("attachments", None)
        if call.params.get("metadata") is not None:
            message["metadata"] = call.params["metadata"]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message["text"],
            "message": copy.deepcopy(message),
        }

    def _chat_delete(self, call: SlackCall) -> dict[str, Any]:
        channel = self._visible_channel(self._param(call, "channel"), call)
        message = self._message(call, channel.id)
        if message.get("user") != self.bot_user_id:
            raise _SlackError("cant_delete_message")
        self.messages[channel.id].remove(message)
        return {"channel": channel.id, "ts": message["ts"]}

    def _chat_get_permalink(self, call: SlackCall) -> dict[str, Any]:
        channel = self._visible_channel(self._param(call, "channel"), call)
        message = self._message(call, channel.id, "message_ts")
        ts = str(message["ts"])
        permalink = f"https://{self.domain}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts is not None and thread_ts != ts:
            permalink += f"?thread_ts={thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": permalink}

    def _reactions_add(self, call: SlackCall) -> dict[str, Any]:
        name = (self._param(call, "name") or "").strip(":")
        if not name:
            raise _SlackError("invalid_name")
        channel = self._visible_channel(self._param(call, "channel"), call)
        if self._param(call, "timestamp") is None:
            raise _SlackError("no_item_specified")
        message = self._message(call, channel.id, "timestamp")
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise _SlackError("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] += 1
        return {}

    # files

    def _require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise _SlackError("missing_scope", needed=scope, provided=",".join(self.scopes))

    def _files_get_upload_url_external(self, call: SlackCall) -> dict[str, Any]:
        self._require_scope("files:write")
        filename = self._param(call, "filename")
        raw_length = self._param(call, "length")
        missing = [name for name, value in (("filename", filename), ("length", raw_length)) if value is None]
        if missing:
            raise _invalid_arguments([f"missing required field: {name}" for name in missing])
        try:
            length = int(str(raw_length))
        except ValueError:
            raise _invalid_arguments(["invalid value for field: length"]) from None
        if length <= 0:
            raise _SlackError("missing_argument")
        file_id = self._next_id("F")
        upload_id = uuid.uuid4().hex
        self._uploads[upload_id] = file_id
        self.files[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "length": length,
            "alt_txt": self._param(call, "alt_txt"),
            "snippet_type": self._param(call, "snippet_type"),
            "content": None,
            "completed": False,
            "deleted": False,
            "user": self._caller_bot(call),
            "channels": [],
        }
        return {"upload_url": f"{self.base_url}/upload/v1/{upload_id}", "file_id": file_id}

    def _caller_bot(self, call: SlackCall) -> str:
        """The bot user the call's token is: an installation's, or the one workspace's."""
        install = self.installs.get(call.token or "")
        return install.bot_user_id if install is not None else self.bot_user_id

    def _files_delete(self, call: SlackCall) -> dict[str, Any]:
        self._require_scope("files:write")
        file_id = self._param(call, "file")
        if file_id is None:
            raise _invalid_arguments(["missing required field: file"])
        stored = self.files.get(str(file_id))
        if stored is None or not stored["completed"]:
            raise _SlackError("file_not_found")
        if stored["deleted"]:
            raise _SlackError("file_deleted")
        if stored["user"] != self._caller_bot(call):
            raise _SlackError("cant_delete_file")
        stored["deleted"] = True
        stored["content"] = None
        for messages in self.messages.values():
            for message in messages:
                if any(shown.get("id") == file_id for shown in message.get("files") or ()):
                    message["files"] = [
                        {"id": shown["id"], "mode": "tombstone"} if shown.get("id") == file_id else shown
                        for shown in message["files"]
                    ]
        return {}

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """The upload URL: the file's bytes, raw or as the `file` part of a multipart form. Like Slack's,
        it needs no token (the URL is the secret) and answers in plain text."""
        injected = await self._injected(FILE_UPLOAD)
        if injected is not None:
            return injected
        file_id = self._uploads.get(request.match_info["upload_id"])
        if file_id is None:
            return web.Response(status=404, text="upload not found")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = form.get("file") or form.get("filename")
            if not isinstance(part, web.FileField):
                return web.Response(status=400, text="no file in the form")
            content = part.file.read()
        else:
            content = await request.read()
        stored = self.files[file_id]
        if len(content) != stored["length"]:
            return web.Response(status=400, text=f"expected {stored['length']} bytes, got {len(content)}")
        stored["content"] = content
        del self._uploads[request.match_info["upload_id"]]
        return web.Response(text=f"OK - {len(content)}")

    def _share_targets(self, call: SlackCall) -> list[FakeChannel]:
        """The conversations `channel_id` (a conversation id) and `channels` (ids, or user ids for the bot's
        DM with them) name, each one the bot may post in."""
        targets: list[FakeChannel] = []
        channel_id = self._param(call, "channel_id")
        if channel_id is not None:
            if not str(channel_id).startswith(("C", "G", "D", "Z")):
                raise _invalid_arguments(
                    ["input must match regex pattern: ^[CGDZ][A-Z0-9]{8,}$ [json-pointer:/channel_id]"]
                )
            channel = self._visible_channel(channel_id, call)
            targets.append(channel)
        for value in (self._param(call, "channels") or "").split(","):
            value = value.strip()
            if not value:
                continue
            if value in self.users and value not in self.channels:
                if self.users[value].deleted:
                    raise _SlackError("user_not_found")
                value = self.dm_channel_id(value)
            targets.append(self._visible_channel(value, call))
        for channel in targets:
            if channel.is_archived:
                raise _SlackError("is_archived")
            if not channel.is_member and not channel.is_im:
                raise _SlackError("not_in_channel")
        return targets

    def _files_complete_upload_external(self, call: SlackCall) -> dict[str, Any]:
        self._require_scope("files:write")
        raw = call.params.get("files")
        if raw is None or raw == "":
            raise _invalid_arguments(["missing required field: files"])
        try:
            listed = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise _invalid_arguments(["invalid json for field: files"]) from None
        if not isinstance(listed, list) or not listed or not all(isinstance(f, dict) for f in listed):
            raise _invalid_arguments(["field files must be a non-empty array of objects"])
        files = []
        for item in listed:
            stored = self.files.get(str(item.get("id", "")))
            if stored is None or stored["content"] is None or stored["completed"]:
                raise _SlackError("file_not_found")
            files.append((stored, item))
        targets = self._share_targets(call)
        comment = self._param(call, "initial_comment")
        thread_ts = self._param(call, "thread_ts")
        shown: list[dict[str, Any]] = []
        completed: list[dict[str, Any]] = []
        for stored, item in files:
            stored["completed"] = True
            if item.get("title"):
                stored["title"] = str(item["title"])
            stored["size"] = len(stored["content"])
            stored["channels"] = [channel.id for channel in targets]
            shown.append(self._file_object(stored))
            completed.append({"id": stored["id"], "title": stored["title"]})
        for channel in targets:
            message = self._bot_message(comment or "", None, None)
            message["files"] = copy.deepcopy(shown)
            message["upload"] = True
            if thread_ts is not None:
                message["thread_ts"] = thread_ts
            self.messages.setdefault(channel.id, []).append(message)
        return {"files": completed}

    def _file_object(self, stored: dict[str, Any]) -> dict[str, Any]:
        name = str(stored["name"])
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        return {
            "id": stored["id"],
            "name": name,
            "title": stored["title"],
            "filetype": extension,
            "size": stored.get("size", stored["length"]),
            "user": stored["user"],
            "channels": [c for c in stored["channels"] if not self.channels[c].is_im],
            "ims": [c for c in stored["channels"] if self.channels[c].is_im],
            "is_public": any(not self.channels[c].is_private for c in stored["channels"]),
            "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{stored['id']}/{name}",
        }

    # views

    def _use_trigger(self, call: SlackCall) -> None:
        trigger_id = self._param(call, "trigger_id") or self._param(call, "interactivity_pointer")
        if trigger_id is None:
            raise _invalid_arguments(["missing required field: trigger_id"])
        if trigger_id == "expired":
            raise _SlackError("expired_trigger_id")
        if trigger_id in self._used_triggers:
            raise _SlackError("exchanged_trigger_id")
        self._used_triggers.add(trigger_id)

    def _checked_view(self, call: SlackCall, allowed_types: Sequence[str]) -> dict[str, Any]:
        view = call.params.get("view")
        if isinstance(view, str):
            raise _SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] invalid json"]})
        errors = _view_errors(view, allowed_types)
        if errors:
            raise _invalid_arguments(errors)
        assert isinstance(view, dict)
        self.violations += _guideline_violations(view.get("blocks"), "/view/blocks")
        return view

    def _next_hash(self) -> str:
        self._id_counter += 1
        return f"{TS_BASE + self._id_counter}.{self._id_counter:08x}"

    def _make_view(
        self, view: dict[str, Any], view_id: str, *, root_view_id: str, previous_view_id: str | None
    ) -> dict[str, Any]:
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": copy.deepcopy(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self._next_hash(),
            "title": copy.deepcopy(view.get("title")),
            "clear_on_close": _flag(view.get("clear_on_close", False)),
            "notify_on_close": _flag(view.get("notify_on_close", False)),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        for key, value in view.items():  # keep anything else the app sent (submit_disabled, ...)
            stored.setdefault(key, copy.deepcopy(value))
        self.views[view_id] = stored
        return stored

    def _check_external_id(self, view: dict[str, Any], *, except_view: str | None = None) -> None:
        external_id = view.get("external_id")
        if external_id and any(
            v.get("external_id") == external_id and v["id"] != except_view for v in self.views.values()
        ):
            raise _SlackError("duplicate_external_id")

    def _views_open(self, call: SlackCall) -> dict[str, Any]:
        self._use_trigger(call)
        view = self._checked_view(call, ("modal",))
        self._check_external_id(view)
        view_id = self._next_id("V")
        return {
            "view": copy.deepcopy(self._make_view(view, view_id, root_view_id=view_id, previous_view_id=None))
        }

    def _views_push(self, call: SlackCall) -> dict[str, Any]:
        self._use_trigger(call)
        view = self._checked_view(call, ("modal",))
        self._check_external_id(view)
        view_id = self._next_id("V")
        return {
            "view": copy.deepcopy(self._make_view(view, view_id, root_view_id=view_id, previous_view_id=None))
        }

    def _views_update(self, call: SlackCall) -> dict[str, Any]:
        view_id = self._param(call, "view_id")
        external_id = self._param(call, "external_id")
        if view_id is None and external_id is None:
            raise _invalid_arguments(["missing required field: view_id"])
        current = self.views.get(view_id or "")
        if current is None and view_id is None:
            current = next((v for v in self.views.values() if v.get("external_id") == external_id), None)
        if current is None:
            raise _SlackError("not_found")
        view = self._checked_view(call, ("modal", "home"))
        expected_hash = self._param(call, "hash")
        if expected_hash is not None and expected_hash != current["hash"]:
            raise _SlackError("hash_conflict")
        self._check_external_id(view, except_view=current["id"])
        if not view.get("external_id") and current.get("external_id"):
            view = {**view, "external_id": current["external_id"]}
        stored = self._make_view(
            view,
            current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        for user_id, home in self.home_views.items():
            if home["id"] == stored["id"]:
                self.home_views[user_id] = stored
        return {"view": copy.deepcopy(stored)}

    def _views_publish(self, call: SlackCall) -> dict[str, Any]:
        user_id = self._param(call, "user_id")
        user = self.users.get(user_id or "")
        if user_id is None or user is None or user.deleted:
            raise _SlackError("user_not_found")
        view = self._checked_view(call, ("home",))
        current = self.home_views.get(user_id)
        expected_hash = self._param(call, "hash")
        if current is not None and expected_hash is not None and expected_hash != current["hash"]:
            raise _SlackError("hash_conflict")
        view_id = current["id"] if current is not None else self._next_id("V")
        stored = self._make_view(view, view_id, root_view_id=view_id, previous_view_id=None)
        self.home_views[user_id] = stored
        return {"view": copy.deepcopy(stored)}
