"""The shape of Slack's payloads, as far as Bolt and Relais's listeners read them, checked once before
dispatch (`handlers.slack.ingress`).

Bolt and the listeners index payloads as Slack builds them (`body["user"]["id"]`, `actions[0]`,
`view["state"]["values"]`, a command's `response_url`). A signed payload of another shape (only someone
holding the signing secret can send one) raised there: inside Bolt, whose own error handler then raised
too (HTTP 500), or inside a listener after the ack. Only types are checked, and only of the parts that
are read; Slack always sends them so. Anything else in a payload is left alone, and a payload of a type
no listener handles goes through to Bolt, which answers it as unhandled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt.request import payload_utils
from slack_bolt.request.async_request import AsyncBoltRequest

Kinds = type | tuple[type, ...]

# What Bolt reads from every request to match listeners and hand them their arguments (and again in its
# own error handler): each is a JSON object where Slack sends one.
_BOLT_READERS = (
    payload_utils.to_options,
    payload_utils.to_shortcut,
    payload_utils.to_action,
    payload_utils.to_view,
    payload_utils.to_command,
    payload_utils.to_event,
    payload_utils.to_message,
    payload_utils.to_step,
)
# What Bolt copies from the payload into the context, which listeners use as strings (ids, a URL).
_CONTEXT_STRINGS = (
    "enterprise_id", "team_id", "user_id", "actor_enterprise_id", "actor_team_id", "actor_user_id",
    "channel_id", "thread_ts", "response_url",
)  # fmt: skip
# A slash command's fields (form-encoded, so strings when present); an empty `text` may be left out.
_COMMAND_FIELDS = ("command", "user_id", "team_id", "channel_id", "response_url", "trigger_id")
_INTERACTIVE_TYPES = (
    "block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion",
    "interactive_message", "dialog_submission", "dialog_cancellation", "dialog_suggestion",
)  # fmt: skip


def has_slack_shape(request: AsyncBoltRequest) -> bool:
    body = request.body
    if not isinstance(body, dict):
        return False
    try:
        parts = [read(body) for read in _BOLT_READERS]
    except (KeyError, TypeError, IndexError, AttributeError):
        return False
    if not all(part is None or isinstance(part, dict) for part in parts):
        return False
    if not all(isinstance(request.context.get(key), str | None) for key in _CONTEXT_STRINGS):
        return False
    # Slack's `response_url` is an https URL of its own; anything else is no Slack payload (an answer
    # posted to it would fail, or go elsewhere).
    response_url = request.context.get("response_url")
    if response_url is not None and not response_url.startswith(("https://", "http://")):
        return False
    # Bolt's middleware and its log of unhandled requests read these whatever the payload's type.
    if not _has(body, {}, {"event": dict, "view": dict, "actions": list, "authorizations": list}):
        return False
    if not all(
        isinstance(entry, dict) for key in ("actions", "authorizations") for entry in body.get(key, [])
    ):
        return False
    if "command" in body:
        return _has(body, dict.fromkeys(_COMMAND_FIELDS, str), {"text": str})
    kind = body.get("type")
    if kind == "event_callback":
        return _event_ok(body)
    if kind in _INTERACTIVE_TYPES:
        return _interactive_ok(body)
    return True


def _has(value: Any, required: Mapping[str, Kinds], optional: Mapping[str, Kinds] | None = None) -> bool:
    """A JSON object with each `required` key of its kind, and each `optional` key, if present, of its."""
    if not isinstance(value, dict):
        return False
    if not all(isinstance(value.get(key), kind) for key, kind in required.items()):
        return False
    return all(key not in value or isinstance(value[key], kind) for key, kind in (optional or {}).items())


def _event_ok(body: dict[str, Any]) -> bool:
    """An organisation's own events (an org-wide installation's `team_access_revoked`, …) name no team:
    `team_id` is left out or null, the envelope naming its `enterprise_id` only. Which events may name no
    team is the installs middleware's to say (`handlers.slack.listeners.installs`)."""
    optional: dict[str, Kinds] = {
        "team_id": (str, type(None)),
        "enterprise_id": (str, type(None)),
        "event_id": str,
        "api_app_id": str,
    }
    if not _has(body, {"event": dict}, optional):
        return False
    event = body["event"]
    if not _has(event, {"type": str}):
        return False
    if event["type"] == "app_home_opened":
        return _has(event, {"user": str}, {"channel": str, "tab": str})
    return True


def _interactive_ok(body: dict[str, Any]) -> bool:
    optional: dict[str, Kinds] = {
        "team": (dict, type(None)),
        "trigger_id": str,
        "response_url": str,
        "api_app_id": str,
        "container": dict,
        "channel": (dict, type(None)),
        "message": dict,
        "view": dict,
        "actions": list,
        "response_urls": list,
    }
    if not _has(body, {"user": dict}, optional):
        return False
    user = body["user"]
    team = body.get("team")
    if not _has(user, {"id": str}, {"team_id": str}):
        return False
    if not (_has(team, {"id": str}) if team is not None else isinstance(user.get("team_id"), str)):
        return False
    if body.get("type") == "block_actions" and not body.get("actions"):
        return False
    action_fields: dict[str, Kinds] = {"block_id": str, "value": str, "type": str, "action_ts": str}
    if not all(_has(action, {"action_id": str}, action_fields) for action in body.get("actions", [])):
        return False
    if not all(_has(entry, {}, {"response_url": str}) for entry in body.get("response_urls", [])):
        return False
    container = body.get("container", {})
    if not _has(container, {}, {"channel_id": str, "message_ts": str, "view_id": str, "type": str}):
        return False
    channel = body.get("channel")
    if channel is not None and not _has(channel, {"id": str}):
        return False
    return "view" not in body or _view_ok(body["view"])


def _view_ok(view: Any) -> bool:
    optional: dict[str, Kinds] = {"callback_id": str, "private_metadata": str, "state": dict, "hash": str}
    if not _has(view, {"id": str, "type": str}, optional):
        return False
    values = view.get("state", {}).get("values", {})
    if not isinstance(values, dict):
        return False
    return all(
        isinstance(block, dict) and all(isinstance(e, dict) for e in block.values())
        for block in values.values()
    )
