"""Shared fixtures: an isolated environment, a database (SQLite, or PostgreSQL when TEST_DATABASE_URL
is set), settings, the fake Slack and a running web app on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiohttp import web
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import BOT_TOKEN as BOT_TOKEN
from bot.demo.workspace import SIGNING_SECRET as SIGNING_SECRET
from bot.web import AccessLogger
from models import Base
from tests.fakes.social import FakeLinkedIn, FakeX

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


APP_TOKEN = "xapp-test-token"

# Every variable Settings reads: tests start from none of them, whatever the developer's shell has.
SETTINGS_VARIABLES = [name.upper() for name in Settings.model_fields]

T = TypeVar("T")


def run_in_thread(function: Callable[[], T]) -> T:
    """Run blocking or `asyncio.run`-using code from anywhere, event loop or not."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(function).result()


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env, and relais.db lands in the test's own folder


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str | None]:
    """On PostgreSQL, create the schema once per run; tests then empty the tables between them."""
    if TEST_DATABASE_URL is None:
        yield None
        return

    async def create() -> None:
        engine = db.create_engine(TEST_DATABASE_URL)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
            await connection.run_sync(Base.metadata.create_all)
        await engine.dispose()

    run_in_thread(lambda: asyncio.run(create()))
    yield db.normalize_database_url(TEST_DATABASE_URL)


@pytest.fixture
def database_url(tmp_path: Path, postgres_schema: str | None) -> str:
    """A database with the current schema (made with create_all: tests of migrations use
    `empty_database_url`)."""
    if postgres_schema is not None:
        return postgres_schema
    return db.normalize_database_url(f"sqlite:///{tmp_path / 'relais.db'}")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url)
    async with engine.begin() as connection:
        if TEST_DATABASE_URL is None:
            await connection.run_sync(Base.metadata.create_all)
        else:
            names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return db.session_factory(engine)


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A brand-new, empty database: a SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    if TEST_DATABASE_URL is None:
        yield db.normalize_database_url(f"sqlite:///{tmp_path / 'empty.db'}")
        return
    base = make_url(db.normalize_database_url(TEST_DATABASE_URL))
    name = f"relais_test_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        engine = db.create_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    run_in_thread(lambda: asyncio.run(admin(f'CREATE DATABASE "{name}"')))
    yield base.set(database=name).render_as_string(hide_password=False)
    run_in_thread(lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake
        # Slack accepts these but its guidelines forbid them (one primary button per actions block).
        assert fake.violations == []


@pytest.fixture
async def linkedin() -> AsyncIterator[FakeLinkedIn]:
    """A fake LinkedIn (OAuth, userinfo, Posts API) on 127.0.0.1."""
    async with FakeLinkedIn() as fake:
        yield fake


@pytest.fixture
async def x() -> AsyncIterator[FakeX]:
    """A fake X (OAuth 2 with PKCE, users/me, tweets) on 127.0.0.1."""
    async with FakeX() as fake:
        yield fake


@pytest.fixture
def make_settings(database_url: str, fake_slack: FakeSlack) -> Callable[..., Settings]:
    """Settings for a Slack-configured app against the fake Slack; keyword arguments override."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": fake_slack.api_url,
            "public_url": "https://relais.example.test",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[httpx.AsyncClient]:
    """Serve `app` on 127.0.0.1 (random port), logging requests as `relais serve` does, and yield an
    HTTP client pointed at it."""
    runner = web.AppRunner(app, access_log_class=AccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10) as client:
            yield client
    finally:
        await runner.cleanup()


@asynccontextmanager
async def web_pages(page: Callable[[web.Request], Any]) -> AsyncIterator[str]:
    """Serve every path with `page` on 127.0.0.2 (loopback; the one address the tests' preview fetcher
    may read, as a public site) and yield the base URL."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.2", 0).start()
    try:
        yield f"http://127.0.0.2:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def connections_in_use(engine: AsyncEngine) -> Iterator[Callable[[], int]]:
    """While inside, the returned function tells how many connections of `engine`'s pool are checked out:
    a session holds one from its first statement to its commit or close, so asked while a network call
    is made it shows a transaction (read or write) left open across it."""
    held: set[int] = set()

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        held.add(id(record))

    def checkin(dbapi_connection: Any, record: Any) -> None:
        held.discard(id(record))

    pool = engine.sync_engine.pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        yield lambda: len(held)
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)


@contextmanager
def pending_writes(engine: AsyncEngine) -> Iterator[Callable[[], bool]]:
    """While inside, the returned function tells whether some connection of `engine` has a write
    (INSERT, UPDATE, DELETE) not yet committed or rolled back: asked while a fake service holds a call,
    it shows a write transaction left open across a network call."""
    pending: set[int] = set()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            pending.add(id(conn.connection))

    def ended(conn: Any) -> None:
        pending.discard(id(conn.connection))

    listeners: tuple[tuple[str, Callable[..., None]], ...] = (
        ("before_cursor_execute", before),
        ("commit", ended),
        ("rollback", ended),
    )
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    try:
        yield lambda: bool(pending)
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)
