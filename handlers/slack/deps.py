"""What every Slack listener needs, injected into Bolt's context by one middleware."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import MultiFernet
from slack_bolt.context.async_context import AsyncBoltContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.services.hotpath import HotCache
from bot.services.posting import Poster
from bot.services.preview import PreviewFetcher
from bot.services.shares import ShareWriter
from bot.social import SocialClient
from models import Network

CONTEXT_KEY = "relais"


@dataclass
class Relais:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    shares: ShareWriter
    fetcher: PreviewFetcher
    poster: Poster
    # The networks members can connect (API posting), and the cipher of their tokens at rest.
    social: Mapping[Network, SocialClient] = field(default_factory=dict)
    cipher: MultiFernet | None = None
    cache: HotCache = field(default_factory=HotCache)


def relais(context: AsyncBoltContext | dict[str, Any]) -> Relais:
    deps = context[CONTEXT_KEY]
    assert isinstance(deps, Relais)
    return deps
