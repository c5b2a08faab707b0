"""`relais erase-member <platform> <workspace> <member id>`, run as an operator runs it (a separate process
with only the environment): the same erasure as `/relais forget-me`, for someone who left; counts
printed, never names; an unknown workspace or member is one line, exit 1, nothing changed."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot import db
from bot.demo.fake_slack import FakeSlack
from bot.services import mydata
from models import Member, Network, SocialAccount, SocialAccountStatus
from tests.bot import test_cli
from tests.bot.test_cli import relais
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, run_in_thread
from tests.erasure_scan import leftovers, rows_in_every_table
from tests.fakes.social import FakeX

# The seeded database of the export tests: Ada (UADMIN, an admin of Slack workspace T1) queued a post,
# shared it and her tracked link was clicked; Bob (UBOB) shared it too; Carol is in a Teams tenant.
seeded_database_url = test_cli.seeded_database_url
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _scan(url: str, needles: list[str]) -> list[str]:
    async def scan() -> list[str]:
        engine = db.create_engine(url)
        try:
            return await leftovers(db.session_factory(engine), needles)
        finally:
            await engine.dispose()

    return run_in_thread(lambda: asyncio.run(scan()))


def _tables(url: str) -> dict[str, int]:
    async def count() -> dict[str, int]:
        engine = db.create_engine(url)
        try:
            return await rows_in_every_table(db.session_factory(engine))
        finally:
            await engine.dispose()

    return run_in_thread(lambda: asyncio.run(count()))


def _export(url: str, kind: str) -> list[dict[str, Any]]:
    result = relais("export", kind, "--format", "json", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_erase_member_erases_a_slack_member_and_keeps_the_counts(seeded_database_url: str) -> None:
    url = seeded_database_url
    shares_before = _export(url, "shares")
    result = relais("erase-member", "slack", "T1", "UADMIN", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert "shares: 1" in result.stdout
    assert "clicks: 2" in result.stdout
    assert "Ada" not in result.stdout

    assert _scan(url, ["UADMIN", "Ada"]) == []
    shares_after = _export(url, "shares")
    assert [(s["post_id"], s["network"], s["status"], s["counted"]) for s in shares_after] == [
        (s["post_id"], s["network"], s["status"], s["counted"]) for s in shares_before
    ]
    assert [s["member"] for s in shares_after] == ["UBOB", "erased", "29:carol"]
    # The post she queued stays, by nobody (no row points at her placeholder any more: `_scan`).
    assert [p["created_by"] for p in _export(url, "posts")] == [None, None]
    assert _export(url, "clicks") == []
    members = {m["member"]: (m["name"], m["opted_out"]) for m in _export(url, "members")}
    assert members == {"erased": (None, True), "UBOB": ("Bob", True), "29:carol": ("Carol", False)}

    # Erased already: one line, exit 1, nothing changed.
    tables = _tables(url)
    again = relais("erase-member", "slack", "T1", "UADMIN", DATABASE_URL=url)
    assert again.returncode == 1
    assert again.stdout == ""
    assert len(again.stderr.strip().splitlines()) == 1
    assert "UADMIN" in again.stderr
    assert _tables(url) == tables


def test_erase_member_in_a_teams_tenant(seeded_database_url: str) -> None:
    url = seeded_database_url
    result = relais("erase-member", "teams", "tenant-2", "29:carol", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert _scan(url, ["29:carol", "Carol"]) == []
    assert [s["member"] for s in _export(url, "shares")] == ["UBOB", "UADMIN", "erased"]


def test_an_unknown_workspace_or_member_is_one_line_exit_1_and_changes_nothing(
    seeded_database_url: str,
) -> None:
    url = seeded_database_url
    tables = _tables(url)
    for args, said in (
        (["slack", "T9", "UADMIN"], "no slack workspace T9"),
        (["slack", "T1", "UNOBODY"], "no member UNOBODY"),
        (["teams", "T1", "UBOB"], "no teams workspace T1"),  # Bob's workspace is a Slack one
        (["slack", "tenant-2", "29:carol"], "no slack workspace tenant-2"),
    ):
        result = relais("erase-member", *args, DATABASE_URL=url)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert said in line
        assert "nothing was changed" in line
    assert _tables(url) == tables
    bad = relais("erase-member", "myspace", "T1", "UADMIN", DATABASE_URL=url)
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr


async def test_erase_member_deletes_the_files_mydata_sent_them_at_slack(
    seeded_database_url: str, fake_slack: FakeSlack
) -> None:
    """Ada got her data as a file in her DM (a bot's file: she cannot delete it); the operator's erasure
    deletes it at Slack with the bot token, and the ids Relais kept go. Bob's file stays."""
    url = seeded_database_url
    fake_slack.add_user("UADMIN")
    fake_slack.add_user("UBOB")
    bot = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    sent: dict[str, str] = {}
    for user in ("UADMIN", "UBOB"):
        dm = (await bot.conversations_open(users=user))["channel"]["id"]
        sent[user] = (await bot.files_upload_v2(channel=dm, filename="d.json", content=b"{}"))["file"]["id"]
    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session:
            members = {
                row.external_id: row.id
                for row in await session.execute(select(Member.external_id, Member.id))
            }
            workspace_id = await session.scalar(
                select(Member.workspace_id).where(Member.external_id == "UBOB")
            )
            assert workspace_id is not None
            for user, file_id in sent.items():
                await mydata.remember_files(
                    session, workspace_id=workspace_id, member_id=members[user], file_ids=[file_id], now=NOW
                )
            await session.commit()
    finally:
        await engine.dispose()

    slack = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
    }
    result = await asyncio.to_thread(
        relais, "erase-member", "slack", "T1", "UADMIN", DATABASE_URL=url, **slack
    )
    assert result.returncode == 0, result.stderr
    assert [call.params["file"] for call in fake_slack.calls_to("files.delete")] == [sent["UADMIN"]]
    assert (fake_slack.files[sent["UADMIN"]]["deleted"], fake_slack.files[sent["UADMIN"]]["content"]) == (
        True,
        None,
    )
    assert fake_slack.files[sent["UBOB"]]["deleted"] is False
    assert BOT_TOKEN not in result.stdout + result.stderr
    assert await asyncio.to_thread(_scan, url, ["UADMIN", "Ada", sent["UADMIN"]]) == []
    assert _tables(url)["sent_file"] == 1  # Bob's


async def test_a_mydata_file_sent_while_erase_member_revokes_their_token_is_deleted_right_after(
    seeded_database_url: str, fake_slack: FakeSlack, x: FakeX
) -> None:
    """The operator's erasure read what to delete outside (Ada's X token; no file yet) and is held at X
    revoking the token; meanwhile `/relais mydata` puts a file in her DM and keeps its id. The erasure's
    transaction finds that id and, once committed, deletes the file at Slack there and then: it is not
    left for the clock's hourly retry."""
    url = seeded_database_url
    fake_slack.add_user("UADMIN")
    key = Fernet.generate_key()
    token = x.issue_token("ada")
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            ada = (await session.scalars(select(Member).where(Member.external_id == "UADMIN"))).one()
            workspace_id, member_id = ada.workspace_id, ada.id
            session.add(
                SocialAccount(
                    workspace_id=workspace_id,
                    member_id=member_id,
                    network=Network.X,
                    status=SocialAccountStatus.CONNECTED,
                    external_person_id="ada",
                    access_token_encrypted=Fernet(key).encrypt(token.encode()).decode(),
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            await session.commit()
        environment = {
            "DATABASE_URL": url,
            "ENCRYPTION_KEY": key.decode(),
            "X_CLIENT_ID": x.client_id,
            "X_CLIENT_SECRET": x.client_secret,
            "X_API_URL": x.api_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
        }
        x.delay("revoke", 2.0)
        erasing = asyncio.ensure_future(
            asyncio.to_thread(relais, "erase-member", "slack", "T1", "UADMIN", **environment)
        )
        async with asyncio.timeout(30):
            while not x.calls_to("revoke"):  # noqa: ASYNC110 - the process runs apart
                await asyncio.sleep(0.05)
        bot = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
        dm = (await bot.conversations_open(users="UADMIN"))["channel"]["id"]
        file_id = (await bot.files_upload_v2(channel=dm, filename="d.json", content=b"{}"))["file"]["id"]
        async with sessions() as session:
            assert await mydata.remember_files(
                session, workspace_id=workspace_id, member_id=member_id, file_ids=[file_id], now=NOW
            )
            await session.commit()
        assert not erasing.done(), "the erasure was not held long enough: the race was not run"
        result = await erasing
    finally:
        await engine.dispose()
    assert result.returncode == 0, result.stderr
    assert x.revoked == [token]
    assert [call.params["file"] for call in fake_slack.calls_to("files.delete")] == [file_id]
    assert (fake_slack.files[file_id]["deleted"], fake_slack.files[file_id]["content"]) == (True, None)
    assert _tables(url)["sent_file"] == 0
    assert await asyncio.to_thread(_scan, url, ["UADMIN", "Ada", token, file_id]) == []
