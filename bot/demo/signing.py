"""Signs requests exactly as Slack does, written from Slack's spec rather than with slack_sdk, so the
tests check the app's verification independently: `v0=` + HMAC-SHA256(secret, `v0:{ts}:{raw body}`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode


def signature(secret: str, timestamp: int, body: bytes) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(secret, ts, body),
    }


def event_body(event: dict[str, Any], *, team_id: str = "T0001", event_id: str = "Ev0001") -> bytes:
    """An Events API `event_callback` envelope."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
        }
    ).encode()


def command_body(
    text: str, *, user_id: str = "U0001", team_id: str = "T0001", command: str = "/relais"
) -> bytes:
    """A slash command, form-encoded as Slack sends it."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "team_domain": "acme",
            "channel_id": "C0001",
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "response_url": "http://127.0.0.1:9/response",
            "trigger_id": "1234.5678.abcd",
        }
    ).encode()
