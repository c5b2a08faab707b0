"""A member's connected networks: where each one stands (with the button that changes it), and the
personal link that connects one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.messages.model import Action, Actions, Message, Note, Part, Section, text
from bot.messages.post import connect_action, network_name

OPEN_CONNECT_ACTION: Final = "connect_open"
DISCONNECT_ACTIONS: Final = {"linkedin": "disconnect_linkedin", "x": "disconnect_x"}


@dataclass(frozen=True)
class Connection:
    """One network as a member sees it: `available` (the install can post there), `connected`, and for
    an unrefreshable connection the day it ends."""

    network: str
    available: bool
    connected: bool
    until: str | None = None


def connect_link(*, network: str, url: str, lang: str) -> Message:
    """A fresh personal link to connect `network` (single-use and short-lived)."""
    name = network_name(lang, network)
    said = text(lang, "connect_link", network=name)
    button = Action(OPEN_CONNECT_ACTION, text(lang, "connect_open", network=name), url=url, style="primary")
    return Message(said, (Section(said), Actions((button,), id=f"connect:{network}")))


def connection_parts(connections: tuple[Connection, ...], lang: str) -> tuple[Part, ...]:
    """One line per network with the button that changes it (Connect / Disconnect)."""
    parts: list[Part] = []
    for c in connections:
        name = network_name(lang, c.network)
        if not c.available:
            parts.append(Note(text(lang, "home_network_link_only", network=name)))
        elif c.connected:
            key = "network_connected_until" if c.until else "network_connected"
            disconnect = Action(
                DISCONNECT_ACTIONS[c.network], text(lang, "disconnect_network", network=name), value=c.network
            )
            parts.append(Section(text(lang, key, network=name, date=c.until or ""), action=disconnect))
        else:
            line = text(lang, "network_not_connected", network=name)
            parts.append(Section(line, action=connect_action(lang, c.network)))
    return tuple(parts)


def connections(connections: tuple[Connection, ...], lang: str) -> Message:
    """`/relais connect` alone: where each network stands, with buttons."""
    title = text(lang, "connections_title")
    return Message(title, (Section(title), *connection_parts(connections, lang)))
