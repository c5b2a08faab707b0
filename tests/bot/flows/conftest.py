"""The core's flows driven without any chat platform: a core (`bot.core.Relais`) over the test database,
a chat surface and a directory written here, in a few lines (what a platform adapter supplies)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_network
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Relais
from bot.flows.acting import Who
from bot.flows.caller import UnknownChannel
from bot.services.members import Profile
from bot.services.posting import Poster
from bot.services.preview import PreviewFetcher
from bot.services.shares import ShareWriter
from models import Platform

# A Wednesday morning in Paris.
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CHANNELS = {"#news": "CNEWS", "#general": "CGENERAL"}
ARTICLE = "http://127.0.0.2:9/article"  # nothing listens there: the page cannot be read


def who(user: str) -> Who:
    """A member of the test workspace, as a platform names them."""
    return Who(Platform.SLACK, "TEAM", user)


async def count(sessions: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@dataclass
class TextSurface:
    """A text-only chat: channels are typed `#name`, nothing is escaped, forms are only recorded (the
    channels chosen and the language in `forms`; what a form opened to approve a suggestion carries, its
    link and the suggestion's id, in `prefilled`)."""

    platform: str = "text"
    forms: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    prefilled: list[tuple[str | None, int | None]] = field(default_factory=list)

    def is_channel_reference(self, word: str) -> bool:
        return word.startswith("#")

    async def resolve_channel(self, reference: str) -> str:
        if reference not in CHANNELS:
            raise UnknownChannel(reference)
        return CHANNELS[reference]

    def typed(self, text: str) -> str:
        return text

    def for_network(self, text: str) -> str:
        return text

    async def open_queue_form(
        self,
        channels: tuple[str, ...],
        lang: str,
        *,
        url: str | None = None,
        suggestion_id: int | None = None,
    ) -> None:
        self.forms.append((channels, lang))
        self.prefilled.append((url, suggestion_id))


@dataclass
class Directory:
    """The platform's directory: a profile per user id (none: the person is gone); `calls` counts asks."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    broken: bool = False

    async def profile(self, user_id: str) -> Profile | None:
        self.calls.append(user_id)
        if self.broken:
            raise ConnectionError("directory down")
        return self.profiles.get(user_id)


@pytest.fixture
async def core(database_url: str, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Relais]:
    settings = Settings(_env_file=None, database_url=database_url, relais_admins="UBOSS")
    clock = FrozenClock(START)
    fetcher = PreviewFetcher(timeout=1.0, allowed_networks=(ip_network("127.0.0.2/32"),))
    yield Relais(
        settings=settings,
        sessions=sessions,
        clock=clock,
        shares=ShareWriter(sessions),
        fetcher=fetcher,
        poster=Poster(sessions, clients={}, cipher=None, base_url=settings.base_url, now=clock.now),
    )
    await fetcher.aclose()


@pytest.fixture
def surface() -> TextSurface:
    return TextSurface()


@pytest.fixture
def directory() -> Directory:
    return Directory(
        {
            "UBOSS": Profile(display_name="Boss", locale="en-US", timezone="Europe/Paris", is_admin=False),
            "UANNE": Profile(display_name="Anne", locale="fr-FR", timezone="Europe/Paris", is_admin=False),
            "UOWNER": Profile(display_name="Owner", locale="en-GB", timezone=None, is_admin=True),
        }
    )
