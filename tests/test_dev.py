"""`python3 dev.py run` serves Relais when a chat platform is configured, and plays the demo otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import dev
from tests.bot.test_cli import _environment


@pytest.mark.parametrize(
    ("settings", "status"),
    [
        ({}, dev.NO_PLATFORM),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, 0),
        ({"MICROSOFT_APP_ID": "app", "MICROSOFT_APP_PASSWORD": "p", "MICROSOFT_APP_TENANT_ID": "t"}, 0),
        ({"RELAIS_TEAMS_ANONYMOUS": "true"}, 0),
    ],
    ids=["nothing", "slack", "teams", "teams-local"],
)
def test_run_serves_when_slack_or_teams_is_configured(
    settings: dict[str, str], status: int, tmp_path: Path
) -> None:
    checked = subprocess.run(
        [sys.executable, "-c", dev.PLATFORM_CONFIGURED],
        env=_environment(**settings),
        cwd=tmp_path,  # no .env here
        check=False,
    )
    assert checked.returncode == status
