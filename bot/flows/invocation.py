"""One `/relais` subcommand as its code sees it (`Invocation`): what a subcommand is given, and the one way
it opens a transaction. A subcommand does its network work first (a channel looked up on the platform, a
page fetched), then applies its change in a short transaction: no transaction is open across a call to
the platform or to the web."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Relais
from bot.flows import acting
from bot.flows.caller import Caller, ChatSurface
from bot.messages import Message


@dataclass(frozen=True)
class Invocation:
    """Who runs the subcommand (`caller`: rows detached from any session, read before it started), the
    words after its name (`args`), the core, and the platform's surface (channel references, forms)."""

    core: Relais
    caller: Caller
    args: tuple[str, ...]
    surface: ChatSurface

    @property
    def lang(self) -> str:
        return self.caller.lang

    @asynccontextmanager
    async def applying(self) -> AsyncIterator[tuple[AsyncSession, Caller]]:
        """A transaction committed on leaving (rolled back on an exception), with the caller loaded into
        it so that what the subcommand changes on the member or the workspace is saved with it. Enter it
        after the network work, never around it."""
        async with self.core.sessions() as session:
            caller = await acting.caller_in(self.core, session, self.caller)
            yield session, caller
            await session.commit()


Subcommand = Callable[[Invocation], Awaitable[Message | None]]
