"""The database: URL normalisation, the async engine (SQLite tuned for one writer) and sessions.

SQLite is the embedded default for one machine; PostgreSQL is the production database. Both are
reached through SQLAlchemy's asyncio extension (aiosqlite, asyncpg).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import Executable, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_DRIVER = "sqlite+aiosqlite"
# Key, in each pooled SQLite connection's info, of the identity of the file it opened.
SQLITE_FILE_KEY = "relais_sqlite_file"
POSTGRES_DRIVER = "postgresql+asyncpg"

# How the core opens sessions (what an adapter hands on without importing SQLAlchemy itself).
Sessions: TypeAlias = async_sessionmaker[AsyncSession]


def normalize_database_url(raw: str) -> str:
    """Map the URLs operators write (`sqlite://`, `postgres://`, `postgresql://`) to the async drivers.

    Raises ValueError (turned into the one-line configuration error) for anything else.
    """
    raw = raw.strip()
    if not raw:
        raise ValueError("empty")
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError("not a database URL") from None
    backend = url.drivername.split("+", 1)[0]
    if backend == "sqlite":
        url = url.set(drivername=SQLITE_DRIVER)
    elif backend in ("postgres", "postgresql"):
        url = url.set(drivername=POSTGRES_DRIVER)
        if "sslmode" in url.query:
            # libpq spells it sslmode, asyncpg spells it ssl; hosted providers hand out the former.
            query = dict(url.query)
            query["ssl"] = query.pop("sslmode")
            url = url.set(query=query)
    else:
        raise ValueError("must be a sqlite:// or postgresql:// URL")
    return url.render_as_string(hide_password=False)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine. On SQLite: WAL, `synchronous=NORMAL`, foreign keys on, a busy timeout."""
    url = normalize_database_url(database_url)
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        path = make_url(url).database

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if path not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                record.info[SQLITE_FILE_KEY] = (path, _file_identity(path))
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class DatabaseFileGone(Exception):
    """The SQLite file was deleted or replaced under the running process."""


async def ping(engine: AsyncEngine, probe: Executable | None = None) -> None:
    """Raise unless the database answers `probe` (a trivial query by default) and, on SQLite, the file
    the connection opened is still the one at its path: a deleted file keeps answering through the
    connections that have it open, and what they write is lost with it."""
    async with engine.connect() as connection:
        await connection.execute(probe if probe is not None else text("SELECT 1"))
        opened = connection.info.get(SQLITE_FILE_KEY)
    if opened is not None:
        path, identity = opened
        if _file_identity(path) != identity:
            raise DatabaseFileGone(path)


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def insert_ignoring_conflicts(session: AsyncSession, table: Any, rows: list[dict[str, Any]] | None) -> Any:
    """An `INSERT … ON CONFLICT DO NOTHING` statement for the session's dialect (SQLite or PostgreSQL):
    the way to record something exactly once under concurrency, keyed by a unique constraint. `rows`
    None: the rows are given to `execute` instead (an executemany, compiled once however many rows)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        postgres = pg_insert(table)
        return (postgres if rows is None else postgres.values(rows)).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    sqlite = sqlite_insert(table)
    return (sqlite if rows is None else sqlite.values(rows)).on_conflict_do_nothing()


T = TypeVar("T")
IN_LIST_MAX = 10_000  # asyncpg takes at most 32,767 parameters in one statement


def chunks(values: Sequence[T], size: int = IN_LIST_MAX) -> Iterator[Sequence[T]]:
    """`values` in slices small enough for one `IN (…)` list on every database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
