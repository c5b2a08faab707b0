"""Removing a workspace's data, run as operators and the clock run it: `relais erase-workspace <platform>
<workspace> [--force]` and `relais jobs run retention --at` (a Slack workspace uninstalled for over 30
days). Every row of every table scoped to the workspace goes, with its Slack installation, its members'
social tokens revoked at the network first; every other workspace's row is exactly as it was; a served
workspace is refused unless --force, an unknown one is one line; a reinstall keeps everything."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, MultiFernet
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import db
from bot.demo.fake_slack import FakeSlack
from bot.services.installs import Install, Installs
from bot.services.members import served_workspaces
from bot.services.workspace_erasure import UNINSTALLED_KEPT
from models import (
    Base,
    Click,
    ConversationRef,
    Delivery,
    Dismissal,
    JobRun,
    Member,
    Network,
    OAuthAttempt,
    OutboxMessage,
    OutboxState,
    Post,
    PostState,
    SentFile,
    Share,
    ShareStatus,
    SocialAccount,
    Suggestion,
    TrackedLink,
    VisitTally,
    WebSession,
    Workspace,
)
from models.outbox import OutboxPacing
from tests.bot.test_cli import relais
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.erasure_scan import leftovers, rows_in_every_table
from tests.fakes.social import FakeX
from tests.scheduler.test_jobs_cli import _relais

Sessions = async_sessionmaker[AsyncSession]

KEY = Fernet.generate_key().decode()
CREATED = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
UNINSTALLED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Globex uninstalls Relais
ACME, GLOBEX, HOOLI, TENANT = "TACME", "TGLOBEX", "THOOLI", "tenant-initech"
TAGS = {ACME: "acme", GLOBEX: "globex", HOOLI: "hooli", TENANT: "initech"}
# Every table holding rows of one workspace (read here from the models, not from the code under test).
SCOPED = [table for table in Base.metadata.sorted_tables if "workspace_id" in table.c]


@dataclass(frozen=True)
class Seeded:
    """A workspace's names (what must be nowhere once it is removed) and its members' tokens at X."""

    workspace_id: int
    names: tuple[str, ...]
    tokens: tuple[str, ...]  # in clear, as X issued them


async def _seed(session: AsyncSession, x: FakeX, *, platform: str, team: str, tag: str) -> Seeded:
    """A workspace with a row in every table scoped to a workspace: two members (one connected to X),
    a post pushed to a channel, a share, a personal link with a click and a visit tally, a "Not for me",
    a suggestion, a connection attempt, a web session, a file sent, messages (one naming a member) and a
    pacing slot, a conversation reference, a job run, points and the dashboard's aggregates."""
    name, channel = f"{tag} Corp", f"C{tag.upper()}NEWS"
    ada, bob = f"U{tag.upper()}ADA", f"U{tag.upper()}BOB"
    ada_name, bob_name = f"Ada {tag}son", f"Bob {tag}berg"
    workspace = Workspace(platform=platform, external_id=team, name=name, default_channel=channel,
                          timezone="Europe/Paris", settings={"nudges": {"day": "tue", "time": "10:00"}},
                          created_at=CREATED, updated_at=CREATED)  # fmt: skip
    session.add(workspace)
    await session.flush()
    ws = workspace.id

    def member(external: str, display: str) -> Member:
        return Member(workspace_id=ws, external_id=external, display_name=display, created_at=CREATED,
                      updated_at=CREATED)  # fmt: skip

    first, second = member(ada, ada_name), member(bob, bob_name)
    session.add_all([first, second])
    await session.flush()
    post = Post(workspace_id=ws, url=f"https://{tag}.example/news", title=f"{tag} news",
                state=PostState.PUBLISHED, channels=[channel], networks=["linkedin", "x"],
                created_by_id=first.id, created_at=CREATED, updated_at=CREATED)  # fmt: skip
    session.add(post)
    await session.flush()
    link = TrackedLink(workspace_id=ws, code=f"{tag}link", post_id=post.id, member_id=first.id,
                       network=Network.LINKEDIN, created_at=CREATED)  # fmt: skip
    session.add(link)
    await session.flush()
    access, refresh = x.issue_token(f"15{tag}"), x.issue_token(f"15{tag}")
    cipher = MultiFernet([Fernet(KEY.encode())])
    session.add_all(
        [
            Delivery(workspace_id=ws, post_id=post.id, destination=channel, message_id="1.1",
                     created_at=CREATED, updated_at=CREATED),
            Share(workspace_id=ws, member_id=first.id, post_id=post.id, network=Network.LINKEDIN,
                  status=ShareStatus.POSTED, caption=f"Proud, {ada_name}", created_at=CREATED,
                  updated_at=CREATED),
            Click(workspace_id=ws, link_id=link.id, at=CREATED, visitor=f"visitor-{tag}"),
            VisitTally(workspace_id=ws, link_id=link.id, hour=CREATED, robots=1),
            Dismissal(workspace_id=ws, member_id=second.id, post_id=post.id, created_at=CREATED),
            Suggestion(workspace_id=ws, member_id=second.id, url=f"https://{tag}.example/idea", reason="good",
                       review_messages=[{"channel": ada, "message_id": "2.2", "admin": ada, "lang": "en"}],
                       created_at=CREATED, updated_at=CREATED),
            SocialAccount(workspace_id=ws, member_id=first.id, network=Network.X,
                          external_person_id=f"15{tag}",
                          access_token_encrypted=cipher.encrypt(access.encode()).decode(),
                          refresh_token_encrypted=cipher.encrypt(refresh.encode()).decode(),
                          created_at=CREATED, updated_at=CREATED),
            OAuthAttempt(workspace_id=ws, member_id=second.id, network=Network.LINKEDIN, nonce=f"nonce{tag}",
                         expires_at=CREATED, created_at=CREATED, updated_at=CREATED),
            WebSession(workspace_id=ws, member_id=first.id, token_hash=f"hash{tag}", csrf_token=f"csrf{tag}",
                       created_at=CREATED, expires_at=CREATED, last_seen=CREATED),
            SentFile(workspace_id=ws, member_id=first.id, file_id=f"F{tag.upper()}1", created_at=CREATED),
            OutboxMessage(workspace_id=ws, kind="leaderboard", destination=channel, state=OutboxState.SENT,
                          payload={"entries": [{"name": bob_name, "id": bob}]}, next_attempt_at=CREATED,
                          created_at=CREATED, updated_at=CREATED),
            OutboxMessage(workspace_id=ws, kind="notice", destination=ada, state=OutboxState.CANCELLED,
                          payload={"text": "hello"}, next_attempt_at=CREATED, created_at=CREATED,
                          updated_at=CREATED),
            OutboxPacing(workspace_id=ws, destination=channel, next_slot_ms=1),
            ConversationRef(workspace_id=ws, key=ada, reference={"user": {"id": ada, "name": ada_name}},
                            updated_at=CREATED),
            JobRun(workspace_id=ws, job="leaderboard", period_key="2026-W41", started_at=CREATED),
        ]
    )  # fmt: skip
    await session.flush()
    week = 202641
    for table, row in (
        ("settled_points", {"member_id": first.id, "points": 3}),
        ("points_refresh", {"as_of": CREATED}),
        ("retention_horizon", {"folded_before": CREATED}),
        ("dashboard_refresh", {"watermark": CREATED, "refreshed_at": CREATED}),
        ("dashboard_week", {"week": week, "post_id": post.id, "network": "linkedin", "shares": 1}),
        ("dashboard_reach_week", {"week": week, "post_id": post.id, "reached": 2}),
        ("dashboard_member_week", {"channel": channel, "week": week, "member_id": first.id, "network": "x"}),
        ("dashboard_sharers_week", {"channel": channel, "network": "x", "week": week, "sharers": 1}),
    ):
        await session.execute(insert(Base.metadata.tables[table]).values(workspace_id=ws, **row))
    names = (name, channel, ada, bob, ada_name, bob_name, f"{tag}link", f"visitor-{tag}", f"{team} (Slack)",
             f"UINSTALLER{team}", f"xoxb-{team}")  # fmt: skip
    return Seeded(ws, names, (access, refresh))


def _install(team: str, at: datetime) -> Install:
    return Install(enterprise_id=None, enterprise_name=None, team_id=team, team_name=f"{team} (Slack)",
                   is_enterprise_install=False, app_id="A1", bot_id=f"B{team}", bot_user_id=f"UBOT{team}",
                   bot_scopes="chat:write", bot_token=f"xoxb-{team}", bot_refresh_token=None,
                   bot_token_expires_at=None, installer_user_id=f"UINSTALLER{team}",
                   installed_at=at)  # fmt: skip


def _installs(sessions: Sessions, at: datetime) -> Installs:
    return Installs(sessions, cipher=MultiFernet([Fernet(KEY.encode())]), state_secret=b"s", now=lambda: at)


@dataclass(frozen=True)
class World:
    url: str
    sessions: Sessions
    x: FakeX
    seeded: dict[str, Seeded]

    def env(self, **more: str) -> dict[str, str]:
        """The settings `relais` runs with: the database, and X (whose tokens are revoked)."""
        return {
            "DATABASE_URL": self.url,
            "ENCRYPTION_KEY": KEY,
            "X_CLIENT_ID": self.x.client_id,
            "X_CLIENT_SECRET": self.x.client_secret,
            "X_API_URL": self.x.api_url,
            **more,
        }


@pytest.fixture
async def world(empty_database_url: str, x: FakeX) -> AsyncIterator[World]:
    """Acme and Globex (Slack) installed through Relais's installation store; Globex then uninstalled (as
    its `app_uninstalled` event does); Hooli uninstalled on the same day and installed again ten days
    later; a Teams tenant. Each holds a row in every workspace-scoped table."""
    assert (await _relais("migrate", DATABASE_URL=empty_database_url))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    seeded: dict[str, Seeded] = {}
    async with sessions() as session:
        for platform, team in (("slack", ACME), ("slack", GLOBEX), ("slack", HOOLI), ("teams", TENANT)):
            seeded[team] = await _seed(session, x, platform=platform, team=team, tag=TAGS[team])
        await session.commit()
    for team in (ACME, GLOBEX, HOOLI):
        await _installs(sessions, CREATED).save(_install(team, CREATED))
    for team in (GLOBEX, HOOLI):
        assert await _installs(sessions, UNINSTALLED).uninstall(
            enterprise_id=None, team_id=team, org_wide=False
        )
    await _installs(sessions, UNINSTALLED + timedelta(days=10)).save(_install(HOOLI, UNINSTALLED))
    async with sessions() as session:
        for workspace_id in (s.workspace_id for s in seeded.values()):
            assert await _rows_of(session, workspace_id) == {table.name: True for table in SCOPED}, (
                "the seed must cover every table scoped to a workspace"
            )
    try:
        yield World(empty_database_url, sessions, x, seeded)
    finally:
        await engine.dispose()


async def _rows_of(session: AsyncSession, workspace_id: int) -> dict[str, bool]:
    """For each table scoped to a workspace, whether it holds a row of this one."""
    found = {}
    for table in SCOPED:
        row = await session.scalar(
            select(table.c.workspace_id).where(table.c.workspace_id == workspace_id).limit(1)
        )
        found[table.name] = row is not None
    return found


def _not_aggregates(rows: dict[str, bool]) -> dict[str, bool]:
    """Leaving out the dashboard's aggregates, which the retention job rebuilds from the seed's rows (as
    in any workspace it keeps)."""
    return {table: held for table, held in rows.items() if not table.startswith("dashboard_")}


def _shown(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else value


async def _everything_but(
    sessions: Sessions, workspace_id: int, team: str
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, but the given workspace's own (its rows, its workspace row, its Slack
    installation), in a stable order: equal snapshots mean nothing else changed."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            query = select(table)
            if "workspace_id" in table.c:
                query = query.where(table.c.workspace_id != workspace_id)
            elif table.name == "workspace":
                query = query.where(table.c.id != workspace_id)
            elif table.name == "slack_installation":
                query = query.where(table.c.team_id != team)
            rows = (await session.execute(query)).all()
            snapshot[table.name] = sorted((tuple(_shown(v) for v in row) for row in rows), key=repr)
    return snapshot


async def _assert_removed(w: World, team: str) -> None:
    """No row of the workspace anywhere, nothing naming it or its people, its tokens revoked at X; only
    its bare workspace row is left."""
    seeded = w.seeded[team]
    async with w.sessions() as session:
        assert await _rows_of(session, seeded.workspace_id) == {table.name: False for table in SCOPED}
        bare = await session.get_one(Workspace, seeded.workspace_id)
        assert (bare.external_id, bare.name, bare.default_channel, bare.timezone, bare.settings) == (
            team,
            None,
            None,
            "UTC",
            {},
        )
    assert await leftovers(w.sessions, [*seeded.names, *seeded.tokens]) == []
    assert set(seeded.tokens) <= set(w.x.revoked)


async def test_erase_workspace_removes_every_row_of_an_uninstalled_workspace_and_nothing_else(
    world: World,
) -> None:
    w = world
    others = await _everything_but(w.sessions, w.seeded[GLOBEX].workspace_id, GLOBEX)
    code, out, err = await _relais("erase-workspace", "slack", GLOBEX, **w.env())
    assert code == 0, err
    assert out.startswith(f"removed slack workspace {GLOBEX}")
    assert "  member: 2\n" in out
    assert "  social_account: 1\n" in out
    assert "  tokens revoked: 2\n" in out
    for name in w.seeded[GLOBEX].names:
        assert name not in out + err
    await _assert_removed(w, GLOBEX)
    assert await _everything_but(w.sessions, w.seeded[GLOBEX].workspace_id, GLOBEX) == others
    # The other workspaces' tokens were not revoked.
    assert not set(w.seeded[ACME].tokens) & set(w.x.revoked)

    # Again: nothing is left to remove, and nothing changes.
    tables = await rows_in_every_table(w.sessions)
    code, out, err = await _relais("erase-workspace", "slack", GLOBEX, **w.env())
    assert code == 0, err
    assert out == f"slack workspace {GLOBEX} held nothing more: nothing was removed\n"
    assert await rows_in_every_table(w.sessions) == tables


async def test_a_served_or_unknown_workspace_is_refused_in_one_line_and_nothing_changes(
    world: World, tmp_path: Path
) -> None:
    w = world
    tables = await rows_in_every_table(w.sessions)
    for args, said in (
        (["slack", ACME], f"slack workspace {ACME} is not marked uninstalled"),
        (["slack", HOOLI], "--force"),  # installed again: served
        (["teams", TENANT], "a Teams tenant never is"),
        (["slack", "T9"], "no slack workspace T9 is known"),
        (["teams", ACME], f"no teams workspace {ACME} is known"),
    ):
        code, out, err = await _relais("erase-workspace", *args, **w.env())
        assert code == 1, (args, err)
        assert out == ""
        [line] = err.strip().splitlines()
        assert said in line
        assert "nothing was changed" in line
    bad = relais("erase-workspace", "myspace", ACME, **w.env())
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr
    unmigrated = relais("erase-workspace", "slack", GLOBEX, DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}")
    assert unmigrated.returncode == 2
    assert "is not migrated: run `relais migrate`" in unmigrated.stderr
    assert await rows_in_every_table(w.sessions) == tables
    assert w.x.revoked == []


async def test_force_removes_a_served_workspace_with_its_installation_and_the_files_sent_there(
    world: World, fake_slack: FakeSlack
) -> None:
    """Acme is still installed through its own installation: --force removes it, its installation too,
    and deletes at Slack the file Relais sent Ada (with the workspace's token, which it still has). With
    no installation left nothing can serve Acme: it is marked uninstalled, as an uninstall would (its
    schedules skipped, nothing sent), and said so; a reinstall brings it back. A Teams tenant, never
    marked uninstalled, goes with --force too, and a Slack workspace served by SLACK_BOT_TOKEN alone (no
    installation row): both go on being served, their people starting afresh."""
    w = world
    fake_slack.add_user("UACMEADA")
    bot = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    dm = (await bot.conversations_open(users="UACMEADA"))["channel"]["id"]
    sent = (await bot.files_upload_v2(channel=dm, filename="d.json", content=b"{}"))["file"]["id"]
    async with w.sessions() as session:
        file_row = (
            await session.scalars(
                select(SentFile).where(SentFile.workspace_id == w.seeded[ACME].workspace_id)
            )
        ).one()
        file_row.file_id = sent
        await session.commit()
    others = await _everything_but(w.sessions, w.seeded[ACME].workspace_id, ACME)
    slack = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }
    code, out, err = await _relais("erase-workspace", "slack", ACME, "--force", **w.env(**slack))
    assert code == 0, err
    assert "  slack_installation: 1\n" in out
    assert "  files deleted at the platform: 1\n" in out
    assert out.endswith(
        f"slack workspace {ACME} lost its installation and is now marked uninstalled: reinstall Relais to "
        "use it again\n"
    )
    assert fake_slack.files[sent]["deleted"] is True
    await _assert_removed(w, ACME)
    assert await leftovers(w.sessions, [f"UINSTALLER{ACME}", f"B{ACME}"]) == []
    assert await _everything_but(w.sessions, w.seeded[ACME].workspace_id, ACME) == others
    acme = w.seeded[ACME].workspace_id
    async with w.sessions() as session:
        assert (await session.get_one(Workspace, acme)).uninstalled_at is not None
        assert acme not in (await session.scalars(served_workspaces())).all()  # the clock skips it
    reinstalled = UNINSTALLED + timedelta(days=3)
    await _installs(w.sessions, reinstalled).save(_install(ACME, reinstalled))
    async with w.sessions() as session:
        assert (await session.get_one(Workspace, acme)).uninstalled_at is None
        assert acme in (await session.scalars(served_workspaces())).all()

    async with w.sessions() as session:
        solo = await _seed(session, w.x, platform="slack", team="TSOLO", tag="solo")
        await session.commit()
    for args, env in ((["teams", TENANT], w.env()), (["slack", "TSOLO"], w.env(**slack))):
        code, out, err = await _relais("erase-workspace", *args, "--force", **env)
        assert code == 0, err
        assert "slack_installation" not in out
        assert out.endswith(
            f"Relais still serves {args[0]} workspace {args[1]}: its people start afresh on their next use\n"
        )
    await _assert_removed(w, TENANT)
    async with w.sessions() as session:
        for workspace_id in (w.seeded[TENANT].workspace_id, solo.workspace_id):
            assert (await session.get_one(Workspace, workspace_id)).uninstalled_at is None


async def test_the_retention_job_removes_a_workspace_uninstalled_for_over_30_days_and_keeps_a_reinstalled_one(
    world: World, fake_slack: FakeSlack
) -> None:
    w = world
    env = w.env(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_slack.api_url
    )
    globex = w.seeded[GLOBEX].workspace_id
    before = await _everything_but(w.sessions, globex, GLOBEX)
    async with w.sessions() as session:
        globex_rows = await _rows_of(session, globex)

    # 29 days after the uninstall: kept, for a reinstall.
    early = UNINSTALLED + UNINSTALLED_KEPT - timedelta(days=1)
    code, out, err = await _relais("jobs", "run", "retention", "--at", early.isoformat(), **env)
    assert code == 0, err
    assert "0 workspaces uninstalled for over 30 days removed" in out
    async with w.sessions() as session:
        assert _not_aggregates(await _rows_of(session, globex)) == _not_aggregates(globex_rows)
        assert (await session.get_one(Workspace, globex)).name == f"{GLOBEX} (Slack)"
    assert w.x.revoked == []

    # Past 30 days: Globex goes (its tokens revoked at X); Hooli, uninstalled the same day but installed
    # again since, keeps everything, as do the others.
    late = UNINSTALLED + UNINSTALLED_KEPT + timedelta(hours=1)
    code, out, err = await _relais("jobs", "run", "retention", "--at", late.isoformat(), **env)
    assert code == 0, err
    assert "1 workspaces uninstalled for over 30 days removed" in out
    await _assert_removed(w, GLOBEX)
    after = await _everything_but(w.sessions, globex, GLOBEX)
    hooli = w.seeded[HOOLI].workspace_id
    async with w.sessions() as session:
        assert all(_not_aggregates(await _rows_of(session, hooli)).values())
        assert (await session.get_one(Workspace, hooli)).uninstalled_at is None
    for table in ("member", "share", "post", "social_account", "suggestion", "slack_installation"):
        assert after[table] == before[table], table

    # The next run finds nothing more to remove, and the sweep does not bring a row of Globex back.
    code, out, err = await _relais(
        "jobs", "run", "retention", "--at", (late + timedelta(hours=1)).isoformat(), **env
    )
    assert code == 0, err
    assert "0 workspaces uninstalled for over 30 days removed" in out
    async with w.sessions() as session:
        assert await _rows_of(session, globex) == {table.name: False for table in SCOPED}


def test_erase_workspace_has_help() -> None:
    result = relais("erase-workspace", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: relais erase-workspace")
    assert "--force" in result.stdout
    said = " ".join(result.stdout.split())
    assert "is marked uninstalled: reinstall Relais to use it again" in said
    assert "a Teams tenant go on being served: their people start afresh on their next use" in said
    assert "(reinstall Relais to use it again); otherwise (SLACK_BOT_TOKEN," in said
