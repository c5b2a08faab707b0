"""The files operators use besides the code (the Slack app manifest, the Procfile, the README), and the rules
on the code that import-linter cannot check."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from bot.config import Settings
from handlers.slack.installations import BOT_SCOPES

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
    # Sign in with Slack (`handlers.slack.signin`): its scopes, and the callback it comes back to.
    assert set(manifest["oauth_config"]["scopes"]["user"]) == {"openid", "profile"}
    assert [
        url.removeprefix("https://relais.example.com") for url in manifest["oauth_config"]["redirect_urls"]
    ] == ["/login/slack/callback", "/slack/oauth_redirect"]
    # Installs through /slack/install (`handlers.slack.installations`): the scopes they ask for, the events
    # that stop a workspace, and Enterprise Grid's org-wide installs.
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(
        manifest["settings"]["event_subscriptions"]["bot_events"]
    )
    assert manifest["settings"]["org_deploy_enabled"] is True


def test_procfile_runs_migrations_on_release_and_serves_the_web() -> None:
    lines = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines() if line)
    assert lines["release"] == "relais migrate"
    assert lines["web"] == "relais serve"
    assert lines["clock"] == "relais clock"


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


# What opens a database session or transaction: the core's sessionmaker (`core.sessions()`,
# `self._sessions()`, `sessions()`), SQLAlchemy's own factories, a transaction's `.begin()`.
SESSION_OPENERS = frozenset(
    {"sessions", "_sessions", "session_factory", "sessionmaker", "async_sessionmaker", "AsyncSession"}
)
TRANSACTION_OPENERS = frozenset({"begin", "begin_nested", "create_engine"})


def sessions_opened(source: str) -> list[int]:
    """The lines of `source` that open a session or a transaction (a call, not a mention: passing the
    core's sessions to a core function that owns them is how an adapter reaches the database)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in SESSION_OPENERS or name in TRANSACTION_OPENERS:
            found.append(node.lineno)
    return found


def test_the_session_check_sees_each_way_of_opening_one() -> None:
    opened = """
async def f(core, deps, sessions):
    async with core.sessions() as session: ...
    async with deps.sessions.begin() as session: ...
    async with sessions() as session, session.begin(): ...
    make = core.sessions
    await delivery.deliver(core.sessions, now=core.clock.now)
"""
    assert sessions_opened(opened) == [3, 4, 5, 5]


def test_no_handler_opens_a_database_session() -> None:
    """An adapter runs no SQL: it calls core functions that open (and close) their own sessions. The
    import rules forbid SQLAlchemy in handlers/ but cannot see a call to the core's sessionmaker."""
    opening = {
        f"{path.relative_to(REPO)}:{line}"
        for path in sorted((REPO / "handlers").rglob("*.py"))
        for line in sessions_opened(path.read_text())
    }
    assert opening == set()
