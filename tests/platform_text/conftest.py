"""The whole product on the text platform: the real web app (`bot.web.create_app`, its OAuth and link
routes) serving only the text platform, a fake LinkedIn, an article page, and a clock the tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import ip_network

import httpx
import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.config import Settings
from bot.services.members import Profile
from bot.web import DEPS_KEY, create_app
from tests.bot.flows.conftest import START, Directory
from tests.conftest import running, web_pages
from tests.fakes.social import FakeLinkedIn
from tests.platform_text.adapter import TextChat, TextPlatform

PUBLIC = "https://relais.example.test"
ARTICLE_PAGE = """<!doctype html><html><head><title>Acme opens in Lyon</title>
<meta property="og:title" content="Acme opens in Lyon">
<meta property="og:description" content="Our new office, and the people in it."></head>
<body><p>Hello Lyon.</p></body></html>"""


@dataclass
class World:
    chat: TextChat
    platform: TextPlatform
    browser: httpx.AsyncClient  # the people's browser, at the running web app
    app: web.Application
    linkedin: FakeLinkedIn
    clock: FrozenClock
    sessions: async_sessionmaker[AsyncSession]
    article: str


@pytest.fixture
async def article() -> AsyncIterator[str]:
    """An article page on 127.0.0.2 (the one address the preview fetcher may read in tests)."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=ARTICLE_PAGE, content_type="text/html")

    async with web_pages(page) as base:
        yield f"{base}/lyon"


@pytest.fixture
def people() -> Directory:
    """Boss (an admin by RELAIS_ADMINS, English), Anne (French), Dave (English, he connects LinkedIn),
    Quinn (English, quiet: does nothing). All in Paris."""

    def person(name: str, locale: str) -> Profile:
        return Profile(display_name=name, locale=locale, timezone="Europe/Paris", is_admin=False)

    return Directory(
        {
            "UBOSS": person("Boss", "en-US"),
            "UANNE": person("Anne", "fr-FR"),
            "UDAVE": person("Dave", "en-GB"),
            "UQUINN": person("Quinn", "en-GB"),
        }
    )


@pytest.fixture
async def world(
    database_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    linkedin: FakeLinkedIn,
    article: str,
    people: Directory,
) -> AsyncIterator[World]:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        public_url=PUBLIC,
        relais_admins="UBOSS",
        encryption_key=Fernet.generate_key().decode(),
        linkedin_client_id=linkedin.client_id,
        linkedin_client_secret=linkedin.client_secret,
        linkedin_auth_url=linkedin.auth_url,
        linkedin_api_url=linkedin.api_url,
    )
    clock = FrozenClock(START)
    platform = TextPlatform()
    app = create_app(
        settings,
        engine=engine,
        clock=clock,
        fetch_allowed_networks=(ip_network("127.0.0.2/32"),),
        adapters=[platform],
    )
    async with running(app) as browser:
        chat = TextChat(app[DEPS_KEY], people, platform.recorder)
        yield World(chat, platform, browser, app, linkedin, clock, sessions, article)
