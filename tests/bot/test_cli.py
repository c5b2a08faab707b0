"""The `relais` command, run as an operator runs it: a separate process with only the environment."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot import db, migrate
from bot.demo.fake_slack import FakeSlack
from bot.demo.signing import event_body, signed_headers
from models import (
    Click,
    Member,
    Network,
    Platform,
    Post,
    PostState,
    Share,
    ShareStatus,
    TrackedLink,
    Workspace,
)
from tests.conftest import BOT_TOKEN, SETTINGS_VARIABLES, SIGNING_SECRET, free_port, run_in_thread

# Rows these tests write themselves are stamped with a fixed time (there is no wall-clock default).
CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

RELAIS = str(Path(sys.executable).with_name("relais"))


def _environment(**variables: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    environment.update(variables)
    return environment


def relais(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RELAIS, *args],
        env=_environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "command", [[], ["migrate"], ["serve"], ["clock"], ["jobs"], ["jobs", "run"], ["export"], ["demo"]]
)
def test_every_command_has_help(command: list[str]) -> None:
    result = relais(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: relais")
    assert result.stderr == ""


def test_migrate_an_empty_database_then_export_prints_an_empty_array(empty_database_url: str) -> None:
    migrated = relais("migrate", DATABASE_URL=empty_database_url)
    assert migrated.returncode == 0, migrated.stderr
    head = migrate.head_revision()
    assert f"migrated from revision none to revision {head}" in migrated.stdout
    again = relais("migrate", DATABASE_URL=empty_database_url)  # safe on every release
    assert again.returncode == 0
    assert f"was already revision {head}" in again.stdout
    for kind in ("shares", "posts", "clicks", "members"):
        exported = relais("export", kind, "--format", "json", DATABASE_URL=empty_database_url)
        assert exported.returncode == 0, exported.stderr
        assert json.loads(exported.stdout) == []
    header = relais("export", "shares", DATABASE_URL=empty_database_url)
    assert header.stdout.splitlines()[0].split(",")[:4] == ["post_id", "url", "member", "platform"]


def test_migrate_uses_the_sqlite_default_in_the_working_directory(tmp_path: Path) -> None:
    assert relais("migrate").returncode == 0
    assert (tmp_path / "relais.db").exists()
    assert relais("export", "members", "--format", "json").stdout.strip() == "[]"


async def _seed(url: str) -> None:
    engine = db.create_engine(url)
    async with AsyncSession(engine) as session:
        acme = Workspace(
            platform=Platform.SLACK, external_id="T1", name="Acme", created_at=CREATED, updated_at=CREATED
        )
        other = Workspace(
            platform=Platform.TEAMS, external_id="tenant-2", created_at=CREATED, updated_at=CREATED
        )
        session.add_all([acme, other])
        await session.flush()
        admin = Member(
            workspace_id=acme.id,
            external_id="UADMIN",
            display_name="Ada",
            locale="fr-FR",
            created_at=CREATED,
            updated_at=CREATED,
        )
        bob = Member(
            workspace_id=acme.id,
            external_id="UBOB",
            display_name="Bob",
            opted_out=True,
            created_at=CREATED,
            updated_at=CREATED,
        )
        carol = Member(
            workspace_id=other.id,
            external_id="29:carol",
            display_name="Carol",
            created_at=CREATED,
            updated_at=CREATED,
        )
        session.add_all([admin, bob, carol])
        await session.flush()
        post = Post(
            workspace_id=acme.id,
            url="https://example.com/launch",
            title="We launched",
            state=PostState.PUBLISHED,
            channels=["C1", "C2"],
            networks=["linkedin", "x"],
            created_by_id=admin.id,
            publish_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
            created_at=datetime(2026, 11, 19, 12, 0, tzinfo=UTC),
            updated_at=CREATED,
        )
        teams_post = Post(
            workspace_id=other.id,
            url="https://example.com/teams",
            title="Teams news",
            created_at=CREATED,
            updated_at=CREATED,
        )
        session.add_all([post, teams_post])
        await session.flush()
        session.add_all(
            [
                Share(workspace_id=acme.id, member_id=bob.id, post_id=post.id, network=Network.LINKEDIN,
                      status=ShareStatus.POSTED, external_id="urn:li:share:1",
                      created_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC), updated_at=CREATED),
                Share(workspace_id=acme.id, member_id=admin.id, post_id=post.id, network=Network.X,
                      status=ShareStatus.INTENT, created_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
                      updated_at=CREATED),
                Share(workspace_id=other.id, member_id=carol.id, post_id=teams_post.id, network=Network.X,
                      status=ShareStatus.INTENT, created_at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
                      updated_at=CREATED),
            ]
        )  # fmt: skip
        link = TrackedLink(
            workspace_id=acme.id,
            code="c0de",
            post_id=post.id,
            member_id=admin.id,
            network=Network.X,
            created_at=CREATED,
        )
        session.add(link)
        await session.flush()
        session.add_all(
            [
                Click(workspace_id=acme.id, link_id=link.id, at=datetime(2026, 11, 25, 11, 0, tzinfo=UTC)),
                Click(workspace_id=acme.id, link_id=link.id, at=datetime(2026, 11, 25, 11, 1, tzinfo=UTC),
                      counted=False, reason="crawler"),
            ]
        )  # fmt: skip
        await session.commit()
    await engine.dispose()


@pytest.fixture
def seeded_database_url(empty_database_url: str) -> str:
    assert relais("migrate", DATABASE_URL=empty_database_url).returncode == 0
    run_in_thread(lambda: asyncio.run(_seed(empty_database_url)))
    return empty_database_url


def test_export_json_carries_the_documented_fields(seeded_database_url: str) -> None:
    def export(kind: str, *extra: str) -> list[dict[str, object]]:
        result = relais("export", kind, "--format", "json", *extra, DATABASE_URL=seeded_database_url)
        assert result.returncode == 0, result.stderr
        rows: list[dict[str, object]] = json.loads(result.stdout)
        return rows

    shares = export("shares")
    assert [(s["member"], s["network"], s["status"]) for s in shares] == [
        ("UBOB", "linkedin", "posted"),
        ("UADMIN", "x", "intent"),
        ("29:carol", "x", "intent"),
    ]
    first = shares[0]
    assert first["url"] == "https://example.com/launch"
    assert first["platform"] == "slack"
    assert first["external_id"] == "urn:li:share:1"
    assert first["created_at"] == "2026-11-20T10:00:00+00:00"
    assert isinstance(first["post_id"], int)

    posts = export("posts", "--workspace", "T1")
    assert len(posts) == 1
    assert posts[0]["title"] == "We launched"
    assert posts[0]["state"] == "published"
    assert posts[0]["channels"] == ["C1", "C2"]
    assert posts[0]["created_by"] == "UADMIN"
    assert posts[0]["publish_at"] == "2026-11-20T09:00:00+00:00"

    clicks = export("clicks")
    assert [(c["member"], c["network"], c["counted"]) for c in clicks] == [
        ("UADMIN", "x", True),
        ("UADMIN", "x", False),
    ]
    assert clicks[0]["at"] == "2026-11-25T11:00:00+00:00"

    members = export("members")
    assert {m["member"]: (m["platform"], m["name"], m["opted_out"]) for m in members} == {
        "UADMIN": ("slack", "Ada", False),
        "UBOB": ("slack", "Bob", True),
        "29:carol": ("teams", "Carol", False),
    }
    assert [s["member"] for s in export("shares", "--since", "2026-11-25")] == ["UADMIN", "29:carol"]
    assert [s["member"] for s in export("shares", "--workspace", "tenant-2")] == ["29:carol"]


def test_export_csv(seeded_database_url: str) -> None:
    result = relais("export", "posts", "--since", "2026-01-01", DATABASE_URL=seeded_database_url)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    launch = next(row for row in rows if row["title"] == "We launched")
    assert launch["channels"] == "C1 C2"
    assert launch["created_by"] == "UADMIN"
    assert launch["state"] == "published"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["export", "shares", "--since", "yesterday"], "--since"),
        (["export", "likes"], "invalid choice"),
        (["export", "shares", "--format", "xml"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_are_one_line_exit_2(args: list[str], fragment: str) -> None:
    assert_one_line_error(relais(*args), fragment, "--help")


def test_export_refuses_an_unmigrated_database(empty_database_url: str) -> None:
    assert_one_line_error(relais("export", "shares", DATABASE_URL=empty_database_url), "relais migrate")


def test_malformed_setting_is_one_line_exit_2() -> None:
    assert_one_line_error(relais("migrate", PORT="abc"), "PORT")
    assert_one_line_error(relais("migrate", DATABASE_URL="mysql://db/relais"), "DATABASE_URL")


def test_serve_with_a_bot_token_but_no_signing_secret_is_one_line_exit_2(empty_database_url: str) -> None:
    assert relais("migrate", DATABASE_URL=empty_database_url).returncode == 0
    result = relais("serve", DATABASE_URL=empty_database_url, SLACK_BOT_TOKEN=BOT_TOKEN)
    assert_one_line_error(result, "SLACK_SIGNING_SECRET is not set", "Basic Information")


def test_a_social_network_without_encryption_key_is_one_line_exit_2(empty_database_url: str) -> None:
    assert relais("migrate", DATABASE_URL=empty_database_url).returncode == 0
    linkedin = {"LINKEDIN_CLIENT_ID": "id", "LINKEDIN_CLIENT_SECRET": "secret"}
    for command in ("serve", "clock"):
        result = relais(command, DATABASE_URL=empty_database_url, SLACK_BOT_TOKEN=BOT_TOKEN,
                        SLACK_SIGNING_SECRET="s", **linkedin)  # fmt: skip
        assert_one_line_error(result, "ENCRYPTION_KEY is not set but LINKEDIN_CLIENT_ID is set", "Fernet")
    half = relais("serve", DATABASE_URL=empty_database_url, X_CLIENT_ID="id")
    assert_one_line_error(half, "X_CLIENT_SECRET is not set but X_CLIENT_ID is set")


def test_teams_anonymous_mode_beside_an_app_id_is_one_line_exit_2(empty_database_url: str) -> None:
    teams = {"MICROSOFT_APP_ID": "app-1", "MICROSOFT_APP_PASSWORD": "teams-secret"}
    for command in ("serve", "clock"):
        result = relais(command, DATABASE_URL=empty_database_url, RELAIS_TEAMS_ANONYMOUS="true", **teams)
        assert_one_line_error(result, "RELAIS_TEAMS_ANONYMOUS is refused because MICROSOFT_APP_ID is set")
        assert "teams-secret" not in result.stderr


def test_teams_without_its_password_is_one_line_exit_2(empty_database_url: str) -> None:
    assert relais("migrate", DATABASE_URL=empty_database_url).returncode == 0
    for command in ("serve", "clock"):
        result = relais(command, DATABASE_URL=empty_database_url, MICROSOFT_APP_ID="app-1")
        assert_one_line_error(
            result, "MICROSOFT_APP_PASSWORD is not set but MICROSOFT_APP_TYPE is MultiTenant"
        )


def test_serve_refuses_an_unmigrated_database(empty_database_url: str) -> None:
    assert_one_line_error(relais("serve", DATABASE_URL=empty_database_url), "run `relais migrate`")


async def _wait_until_up(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    for _ in range(200):
        assert process.returncode is None, "relais serve exited early"
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("relais serve did not come up")


async def test_serve_answers_and_sigterm_finishes_in_flight_requests(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    migrated = await asyncio.create_subprocess_exec(
        RELAIS, "migrate", env=_environment(DATABASE_URL=empty_database_url)
    )
    assert await migrated.wait() == 0
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        RELAIS,
        "serve",
        env=_environment(
            DATABASE_URL=empty_database_url,
            PORT=str(port),
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
            health = await client.get("/healthz")
            assert health.json() == {"status": "ok", "database": "ok"}
            unsigned = await client.post("/slack/events", content=b"{}")
            assert unsigned.status_code == 401

            # A signed request that is still running (its auth.test call is slow) when SIGTERM arrives;
            # the work its listener does after the ack (publishing the Home tab) is finished, not cut.
            fake_slack.add_user("U0001")
            fake_slack.delay("auth.test", 1.5)
            body = event_body({"type": "app_home_opened", "user": "U0001", "channel": "D1", "tab": "home"})
            in_flight = asyncio.create_task(
                client.post("/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body))
            )
            while not fake_slack.calls_to("auth.test"):  # noqa: ASYNC110 - the call happens in another process
                await asyncio.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            response = await in_flight
            assert response.status_code < 500
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        assert [call.params["user_id"] for call in fake_slack.calls_to("views.publish")] == ["U0001"]
        _, stderr = await process.communicate()
        assert b"Traceback" not in stderr, stderr.decode()
        assert BOT_TOKEN.encode() not in stderr
        assert SIGNING_SECRET.encode() not in stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
