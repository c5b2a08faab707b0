"""The composition root: the one core object every chat platform's adapter wraps.

It holds what the flows need (settings, sessions, clock, the share writer, the preview fetcher, the API
poster, the social clients, the cipher of their tokens, the hot cache), and no type of any chat platform:
Slack's adapter puts it in Bolt's context, another platform's adapter wherever its SDK keeps state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.fernet import MultiFernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.services.hotpath import HotCache
from bot.services.posting import Poster
from bot.services.preview import PreviewFetcher
from bot.services.shares import ShareWriter
from bot.social import SocialClient
from models import Network


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
