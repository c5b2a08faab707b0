"""The files operators use besides the code: the Slack app manifest, the Procfile, the README."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.config import Settings

REPO = Path(__file__).resolve().parents[1]


def test_slack_manifest_sends_everything_to_the_one_request_url() -> None:
    manifest = json.loads((REPO / "docs" / "slack-app-manifest.json").read_text())
    commands = manifest["features"]["slash_commands"]
    assert [command["command"] for command in commands] == ["/relais"]
    urls = [
        commands[0]["url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {"commands", "chat:write", "users:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_procfile_runs_migrations_on_release_and_serves_the_web() -> None:
    lines = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines() if line)
    assert lines["release"] == "relais migrate"
    assert lines["web"] == "relais serve"
    assert lines["clock"] == "relais clock"


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}
