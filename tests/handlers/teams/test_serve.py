"""`relais serve` for Teams alone, as a real process: no Slack setting at all, anonymous mode for a local
client (the Agents Playground's way), the `teams` adapter found through its entry point."""

from __future__ import annotations

import asyncio
import signal

import httpx

from bot.demo.fake_teams import FakeTeams
from tests.bot.test_cli import RELAIS, _environment, _wait_until_up
from tests.conftest import free_port
from tests.handlers.teams.driver import TENANT, activity
from tests.handlers.teams.test_install import CHANNEL, card_text, team_activity


async def test_a_teams_only_server_in_anonymous_mode_welcomes_a_local_install(
    empty_database_url: str,
) -> None:
    migrated = await asyncio.create_subprocess_exec(
        RELAIS, "migrate", env=_environment(DATABASE_URL=empty_database_url)
    )
    assert await migrated.wait() == 0
    port = free_port()
    environment = _environment(DATABASE_URL=empty_database_url, PORT=str(port), RELAIS_TEAMS_ANONYMOUS="true")
    async with FakeTeams(tenant_id=TENANT, anonymous=True) as playground:
        playground.add_conversation(CHANNEL)
        process = await asyncio.create_subprocess_exec(
            RELAIS, "serve", env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                await _wait_until_up(client, process)
                install = team_activity(playground.service_url, "installationUpdate", action="add")
                assert (await client.post("/api/messages", json=install)).status_code == 202
                faraway = activity("https://smba.trafficmanager.net/teams/")
                assert (await client.post("/api/messages", json=faraway)).status_code == 401
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        _, stderr = await process.communicate()
        (welcome,) = playground.activities(CHANNEL)
    log = stderr.decode()
    assert "RELAIS_TEAMS_ANONYMOUS is on" in log
    assert "No chat platform is configured" not in log  # Teams is one
    assert "Traceback" not in log, log
    assert "Relais est installé" in card_text(welcome)
