"""The demo's fakes are local servers: an aiohttp app on 127.0.0.1, on a port the system picks, started
and stopped as an async context manager."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


class LocalServer:
    """Subclasses build their app (`application`) and may close what they hold open first (`closing`).
    `keeps_port`: started again after `stop`, it serves on the same port (a server that was down and is
    back, as clients see it)."""

    keeps_port = False

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def application(self) -> web.Application:
        raise NotImplementedError

    async def closing(self) -> None:
        """What to close before the server stops (open WebSockets, waiters)."""

    async def start(self) -> None:
        """Serve on 127.0.0.1, on a port the system picks."""
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        runner = web.AppRunner(
            self.application(), handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self._port if self.keeps_port and self._port else 0).start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        await self.closing()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        if not self.keeps_port:
            self._port = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port
