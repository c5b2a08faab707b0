"""Connections through the core alone (`bot.flows.connections`): where each network stands, the
Connect / Disconnect buttons' ids, and "post it" on a share that is not the member's."""

from __future__ import annotations

from bot.core import Relais
from bot.flows import acting, connections
from bot.flows.acting import Who
from bot.messages import Message, Note, Section, text
from bot.messages.connections import Connection, connection_parts
from models import Network, Platform
from tests.bot.flows.conftest import Directory

ANNE = Who(Platform.SLACK, "TEAM", "UANNE")


def test_each_connection_button_names_its_network() -> None:
    assert connections.NETWORK_OF_ACTION == {
        "connect_linkedin": Network.LINKEDIN,
        "connect_x": Network.X,
        "disconnect_linkedin": Network.LINKEDIN,
        "disconnect_x": Network.X,
    }
    parts = connection_parts((Connection("linkedin", True, True), Connection("x", True, False)), "en")
    ids = [part.action.id for part in parts if isinstance(part, Section) and part.action is not None]
    assert all(id_ in connections.NETWORK_OF_ACTION for id_ in ids)
    assert ids == ["disconnect_linkedin", "connect_x"]


async def test_without_social_clients_every_network_is_shared_by_link(
    core: Relais, directory: Directory
) -> None:
    caller = await acting.caller(core, directory, ANNE)
    found = await connections.member_connections(core, caller.member.id)
    assert found == (Connection("linkedin", False, False), Connection("x", False, False))
    assert connection_parts(found, "fr") == tuple(
        Note(text("fr", "home_network_link_only", network=text("fr", f"network_{n}")))
        for n in ("linkedin", "x")
    )


async def test_post_it_on_a_share_that_is_not_there_says_so_after_the_ack(
    core: Relais, directory: Directory
) -> None:
    told: list[Message] = []

    async def early(message: Message) -> None:
        told.append(message)

    started = await connections.start_repost(core, directory, ANNE, 42, early)
    assert told == []  # answered within the ack's budget: nothing said early
    assert await connections.repost_answer(core, started) == Message(text("fr", "no_longer_available"))
    forged = await connections.start_repost(core, directory, ANNE, None, early)
    assert await connections.repost_answer(core, forged) == Message(text("fr", "no_longer_available"))
