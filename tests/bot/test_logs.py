"""`relais serve` at LOG_LEVEL=DEBUG: libraries log request and response bodies, never a connect token."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet

from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import SlackDriver, setup_workspace
from bot.logs import REDACTED, RedactSecrets, redact
from tests.bot.test_cli import RELAIS, _environment, _wait_until_up
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, free_port


async def test_debug_logs_of_the_real_server_never_hold_a_connect_token(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    migrated = await asyncio.create_subprocess_exec(
        RELAIS, "migrate", env=_environment(DATABASE_URL=empty_database_url)
    )
    assert await migrated.wait() == 0
    setup_workspace(fake_slack)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        RELAIS,
        "serve",
        env=_environment(
            DATABASE_URL=empty_database_url,
            PORT=str(port),
            LOG_LEVEL="DEBUG",
            PUBLIC_URL="https://relais.example.test",
            ENCRYPTION_KEY=Fernet.generate_key().decode(),
            LINKEDIN_CLIENT_ID="linkedin-client-id",
            LINKEDIN_CLIENT_SECRET="linkedin-client-secret",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake_slack.api_url,
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await _wait_until_up(client, process)
            reply = await SlackDriver(client, fake_slack).command("UEMP2", "connect linkedin")
        [link] = [
            element["url"]
            for block in reply["blocks"]
            for element in block.get("elements", [block.get("accessory") or {}])
            if element.get("action_id") == "connect_open"
        ]
        assert link.startswith("https://relais.example.test/oauth/linkedin/start?t=")
        token = parse_qs(urlsplit(link).query)["t"][0]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        _, stderr = await process.communicate()
        logs = stderr.decode()
        assert " DEBUG " in logs  # the libraries did log at DEBUG, the link among what they logged
        assert f"/oauth/linkedin/start?t={REDACTED}" in logs
        assert token not in logs
        assert token[:20] not in logs
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_redaction_covers_plain_encoded_and_traceback_forms() -> None:
    secret = "gAAAAABk_secret-Token=="
    assert redact(f"url: https://r.example/oauth/x/start?t={secret}, next") == (
        f"url: https://r.example/oauth/x/start?t={REDACTED}, next"
    )
    assert redact(f"{{'url': 'https://r.example/cb?state={secret}&code={secret}'}}") == (
        f"{{'url': 'https://r.example/cb?state={REDACTED}&code={REDACTED}'}}"
    )
    assert secret not in redact(f"https://x.example/share?url=https%3A%2F%2Fr.example%2Fstart%3Ft%3D{secret}")
    assert redact("?text=hello&tab=home") == "?text=hello&tab=home"

    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", (f"?t={secret}",), None)
    try:
        raise ValueError(f"bad link ?t={secret}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactSecrets().filter(record)
    assert secret not in logging.Formatter().format(record)
