"""Messages about connected accounts and API shares: connect links, connections, share outcomes."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.posting import ShareView
from handlers.slack.blocks import Blocks, button, context, section
from handlers.slack.text import t

CONNECT_ACTIONS = {"linkedin": "connect_linkedin", "x": "connect_x"}
DISCONNECT_ACTIONS = {"linkedin": "disconnect_linkedin", "x": "disconnect_x"}
OPEN_CONNECT_ACTION = "connect_open"
UNDO_ACTION = "share_undo"
REPOST_ACTION = "share_repost"


@dataclass(frozen=True)
class Connection:
    """One network as a member sees it: `available` (the install can post there), `connected`, and for
    an unrefreshable connection the day it ends."""

    network: str
    available: bool
    connected: bool
    until: str | None = None


def _name(lang: str, network: str) -> str:
    return t(lang, f"network_{network}")


def connect_button(lang: str, network: str, *, again: bool = False) -> dict[str, object]:
    key = "reconnect_network" if again else "connect_network"
    return button(t(lang, key, network=_name(lang, network)), CONNECT_ACTIONS[network], value=network)


def build_connect_link(*, network: str, url: str, lang: str) -> tuple[str, Blocks]:
    name = _name(lang, network)
    text = t(lang, "connect_link", network=name)
    blocks: Blocks = [
        section(text),
        {
            "type": "actions",
            "block_id": f"connect:{network}",
            "elements": [
                button(t(lang, "connect_open", network=name), OPEN_CONNECT_ACTION, url=url, style="primary")
            ],
        },
    ]
    return text, blocks


def connection_blocks(connections: tuple[Connection, ...], lang: str) -> Blocks:
    """One line per network with the button that changes it (Connect / Disconnect)."""
    blocks: Blocks = []
    for c in connections:
        name = _name(lang, c.network)
        if not c.available:
            blocks.append(context(t(lang, "home_network_link_only", network=name)))
            continue
        if c.connected:
            line = t(
                lang,
                "network_connected_until" if c.until else "network_connected",
                network=name,
                date=c.until,
            )
            action = button(
                t(lang, "disconnect_network", network=name), DISCONNECT_ACTIONS[c.network], value=c.network
            )
        else:
            line = t(lang, "network_not_connected", network=name)
            action = connect_button(lang, c.network)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line}, "accessory": action})
    return blocks


def build_connections(connections: tuple[Connection, ...], lang: str) -> tuple[str, Blocks]:
    text = t(lang, "connections_title")
    return text, [section(text), *connection_blocks(connections, lang)]


def build_connected(*, network: str, lang: str) -> tuple[str, Blocks]:
    text = t(lang, "connected_confirmation", network=_name(lang, network))
    return text, [section(text)]


def build_expiring(*, network: str, date: str, lang: str) -> tuple[str, Blocks]:
    text = t(lang, "connection_expiring", network=_name(lang, network), date=date)
    return text, [section(text), {"type": "actions", "elements": [connect_button(lang, network, again=True)]}]


def build_share_outcome(
    share: ShareView, lang: str, *, retry_time: str | None = None, fresh: bool = True
) -> tuple[str, Blocks]:
    """What the member is told about an API share; `fresh` is False when the click found an existing
    share (already posted, already on its way)."""
    name = _name(lang, share.network.value)
    value = str(share.share_id)
    post_value = str(share.post_id)
    buttons: list[dict[str, object]] = []
    status = share.status.value
    if status == "posted" and share.reason in ("unauthorized", "not_connected"):  # an Undo that could not run
        text = t(lang, "undo_needs_reconnect", network=name)
        buttons.append(connect_button(lang, share.network.value, again=True))
    elif status == "posted":
        text = t(lang, "share_posted" if fresh else "share_already_posted", network=name)
        if share.reason == "undo_failed":
            text = t(lang, "undo_failed", network=name)
        if share.external_url:
            buttons.append(button(t(lang, "view_post"), "view_post", url=share.external_url))
        buttons.append(button(t(lang, "undo_share"), UNDO_ACTION, value=value))
    elif status == "undone":
        text = t(lang, "share_undone", network=name)
    elif status in ("pending", "retrying"):
        if retry_time is not None:
            text = t(lang, "share_retrying", network=name, time=retry_time)
        else:
            text = t(lang, "share_on_its_way", network=name)
    elif status == "unknown":
        text = t(lang, "share_unknown", network=name)
        buttons.append(button(t(lang, "repost_share"), REPOST_ACTION, value=value))
    else:
        reason = share.reason or "error"
        key = f"share_failed_{reason}"
        text = t(lang, key if key in _FAILURE_KEYS else "share_failed_error", network=name)
        if reason in ("unauthorized", "not_connected"):
            buttons.append(connect_button(lang, share.network.value, again=True))
        elif reason in ("duplicate", "too_long"):
            buttons.append(button(t(lang, "edit_and_share"), "edit_share", value=post_value, style="primary"))
    blocks: Blocks = [section(text)]
    if buttons:
        blocks.append({"type": "actions", "block_id": f"share_outcome:{value}", "elements": buttons})
    return text, blocks


_FAILURE_KEYS = frozenset(
    f"share_failed_{reason}"
    for reason in (
        "unauthorized",
        "not_connected",
        "duplicate",
        "too_long",
        "forbidden",
        "invalid",
        "unavailable",
        "rate_limited",
        "withdrawn",
        "error",
    )
)
