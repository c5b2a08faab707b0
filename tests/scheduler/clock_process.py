"""`relais clock` as a real process for the scheduler's tests: started with an environment, and stopped
as a platform stops it (SIGTERM), which it must obey at once, cleanly, without a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

from tests.bot.test_cli import RELAIS


@contextlib.asynccontextmanager
async def relais_clock(environment: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `relais clock` with `environment` (already complete: `tests.bot.test_cli._environment`) for
    the block; on leaving it without an error, stop it with SIGTERM and check that it exited 0 with no
    traceback. However the block ends, the process does not outlive it."""
    clock = await asyncio.create_subprocess_exec(
        RELAIS, "clock", env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield clock
        clock.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(clock.wait(), timeout=30) == 0
        _, stderr = await clock.communicate()
        assert b"Traceback" not in stderr, stderr.decode()
    finally:
        if clock.returncode is None:
            clock.kill()
            await clock.wait()
