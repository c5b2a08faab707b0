"""The seam between the core and the chat platforms (Slack today, Teams next), and the social networks.

The core never imports an adapter: each one is found through a Python entry point of its package
(pyproject.toml, `[project.entry-points."relais.platforms"]`), so `bot/` runs with whichever adapters
are installed and serves those the settings configure. The social networks' clients come the same way
(`relais.social`): a builder from the settings and the shared HTTP client to the clients it can make. A
platform may add subcommands to `relais` the same way (`relais.commands`; Teams' `relais teams-package`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Protocol

import httpx
from aiohttp import web

from bot.clock import Clock
from bot.config import Settings
from bot.core import Relais
from bot.db import Sessions
from bot.notifier import Notifier
from bot.social import SocialClient
from models import Network

PLATFORMS_GROUP = "relais.platforms"
SOCIAL_GROUP = "relais.social"
COMMANDS_GROUP = "relais.commands"

SocialBuilder = Callable[[Settings, httpx.AsyncClient], Mapping[Network, SocialClient]]


class Platform(Protocol):
    """A chat platform's adapter, as the web server and the clock see it."""

    name: str
    # How this platform's people call Relais, written before a command's words where a text names one
    # (`bot.i18n.COMMAND`): Slack's `/relais `; empty where the words are typed alone.
    command: str

    def configured(self, settings: Settings) -> bool:
        """Whether these settings ask for this platform (any of its credentials set)."""
        ...

    def require(self, settings: Settings) -> None:
        """Raise `ConfigError` unless the platform's settings form a usable set."""
        ...

    def install(self, app: web.Application, core: Relais) -> None:
        """Add the platform's routes and what starts and stops with the server to `app`; when the
        settings do not configure it, only a route that says so."""
        ...

    async def drain(self, app: web.Application, workspace_id: int) -> None:
        """Send what a request just enqueued in workspace `workspace_id` (Relais's id), if it is this
        platform's (the clock would, a little later); other workspaces are left to the clock."""
        ...

    def notifier(self, settings: Settings, sessions: Sessions, clock: Clock) -> Notifier:
        """The clock's sender of outbox messages to this platform's workspaces (only called when
        configured); `sessions` lets it resolve destinations from the database (Teams' stored
        conversation references), and `clock` (the outbox's) stamps what it records there."""
        ...


class PlatformCommand(Protocol):
    """A `relais` subcommand a platform adds (entry point group `relais.commands`, named as the
    subcommand). It needs no setting and no database: `relais` runs it before reading either."""

    help: str
    description: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int:
        """Do it; the exit code. A failure the operator can fix is one line on stderr and 2."""
        ...


def installed() -> list[Platform]:
    """Every installed platform adapter, by name (an install seen twice counts once)."""
    found: dict[str, Platform] = {}
    for point in sorted(entry_points(group=PLATFORMS_GROUP), key=lambda point: point.name):
        if point.name not in found:
            platform: Platform = point.load()()
            found[point.name] = platform
    return list(found.values())


def configured(settings: Settings) -> list[Platform]:
    """The installed platforms these settings configure, each checked complete (else `ConfigError`)."""
    chosen = [platform for platform in installed() if platform.configured(settings)]
    for platform in chosen:
        platform.require(settings)
    return chosen


def notifiers(
    chosen: list[Platform], settings: Settings, sessions: Sessions, clock: Clock
) -> dict[str, Notifier]:
    """The notifiers the clock sends the outbox through, by platform name: each workspace's messages go
    through its own platform's; with none configured, messages wait in the outbox."""
    return {platform.name: platform.notifier(settings, sessions, clock) for platform in chosen}


def commands() -> dict[str, PlatformCommand]:
    """The subcommands the installed platforms add to `relais`, by name (the first install of a name)."""
    found: dict[str, PlatformCommand] = {}
    for point in sorted(entry_points(group=COMMANDS_GROUP), key=lambda point: point.name):
        if point.name not in found:
            command: PlatformCommand = point.load()()
            found[point.name] = command
    return found


def social_clients(settings: Settings, http: httpx.AsyncClient) -> dict[Network, SocialClient]:
    """The clients of every social network the settings configure, from each installed provider."""
    clients: dict[Network, SocialClient] = {}
    for point in sorted(entry_points(group=SOCIAL_GROUP), key=lambda point: point.name):
        build: SocialBuilder = point.load()
        clients.update(build(settings, http))
    return clients


def new_http_client(timeout: float = 10.0) -> httpx.AsyncClient:
    """The one client every network call shares (pooled connections). Redirects are not followed: an API
    that redirects is misconfigured, and following would resend a bearer token elsewhere."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=5.0),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0),
        follow_redirects=False,
    )
