"""`/relais forget-me` on Enterprise Grid with one installation per workspace: an erasure covers the
person in every workspace of their organisation (`erasure.same_person_elsewhere`), and each file
`/relais mydata` put in their DMs is deleted with the token of the workspace it was sent from (Slack lets
only a file's uploader delete it), never with the token of the workspace the click came from. A file
Slack fails to delete keeps its id until the clock deletes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.demo.workspace import eventually
from bot.services import erasure
from models import Member, SentFile, Workspace
from scheduler import jobs
from tests.erasure_scan import leftovers
from tests.handlers.slack.driver import SlackDriver
from tests.handlers.slack.test_install import Sessions, clock_job, install, settings, web
from tests.handlers.slack.test_social import _button

__all__ = ["settings", "web"]  # the fixtures of `test_install`: Relais serving installs

PERSON = "UEMP2"
ORG = "E0001"


def _file_uploaders(fake: FakeSlack) -> dict[str, str]:
    return {file_id: str(stored["user"]) for file_id, stored in fake.files.items()}


async def _sent_files(sessions: Sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        found = await session.execute(
            select(Workspace.external_id, SentFile.file_id)
            .join(Workspace, Workspace.id == SentFile.workspace_id)
            .order_by(SentFile.id)
        )
        return [(team, file_id) for team, file_id in found]


async def _erase(slack: SlackDriver) -> dict[str, Any]:
    confirm = _button(await slack.command(PERSON, "forget-me"), "forget_me_confirm")
    clicked = await slack.click(PERSON, "forget_me_confirm", confirm["value"], ephemeral=True)
    [done] = await slack.responses(clicked.url_id)
    return done


async def test_forget_me_deletes_each_file_with_its_own_workspaces_token(
    web: SlackDriver, sessions: Sessions, fake_slack: FakeSlack, settings: Any, clock: FrozenClock
) -> None:
    teams = ("T0EAST", "T0WEST")
    for team in teams:
        fake_slack.add_team(team, f"Initech {team}", enterprise_id=ORG, enterprise_name="Initech")
        assert (await install(web, "UADMIN", team=team)).status_code == 200
    east, west = (SlackDriver(web.client, fake_slack, team=team, enterprise=ORG) for team in teams)
    for slack in (east, west):
        assert "private chat" in (await slack.command(PERSON, "mydata"))["text"]
    sent = await _sent_files(sessions)
    assert [team for team, _ in sent] == list(teams)
    uploaders = _file_uploaders(fake_slack)
    assert len(set(uploaders.values())) == 2  # each workspace's own bot uploaded its file

    # Slack answers the first deletion (east's file) with a 500: that file's id is kept (on the erased
    # placeholder) until the clock's hourly job deletes it, with the east token.
    east_file, west_file = (file_id for _, file_id in sent)
    fake_slack.fail_next("files.delete", status=500)
    done = await _erase(east)
    assert done["text"].startswith("Your data is erased."), done["text"]
    tokens = {fake_slack.install_of(team_id=team).bot_token: team for team in teams}
    deletes = [
        (call.params["file"], tokens[call.token or ""]) for call in fake_slack.calls_to("files.delete")
    ]
    assert deletes == [(east_file, "T0EAST"), (west_file, "T0WEST")]
    assert (fake_slack.files[east_file]["deleted"], fake_slack.files[west_file]["deleted"]) == (False, True)
    assert await _sent_files(sessions) == [("T0EAST", east_file)]
    async with sessions() as session:
        erased = (await session.scalars(select(Member).where(Member.erased_at.is_not(None)))).all()
    assert len(erased) == 2  # the person in both workspaces
    assert await leftovers(sessions, [PERSON, west_file]) == []

    # A dead token (the app uninstalled, say) deletes nothing either: the id stays for the next pass.
    fake_slack.fail_next("files.delete", status=200, error="invalid_auth")
    summary = await jobs.run_job(clock_job(settings, sessions, clock.now() + timedelta(hours=1)), "retention")
    assert "files of erased members deleted" not in str(summary)
    assert fake_slack.files[east_file]["deleted"] is False
    assert await _sent_files(sessions) == [("T0EAST", east_file)]
    summary = await jobs.run_job(clock_job(settings, sessions, clock.now() + timedelta(hours=2)), "retention")
    assert "1 files of erased members deleted" in str(summary)
    assert fake_slack.files[east_file]["deleted"] is True
    assert tokens[fake_slack.calls_to("files.delete")[-1].token or ""] == "T0EAST"
    assert await _sent_files(sessions) == []
    assert await leftovers(sessions, [PERSON, east_file, west_file]) == []


async def test_the_left_files_of_an_uninstalled_workspace_never_hold_up_the_others(
    web: SlackDriver,
    sessions: Sessions,
    fake_slack: FakeSlack,
    settings: Any,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slack fails both deletions at the erasure; then the app is uninstalled from the first workspace,
    whose left file, without a token, waits for the workspace's removal. Each clock pass takes a bounded
    number of left files (one here, as if the first workspace had hundreds): the other workspace's file
    is deleted at the first pass, and nothing is tried, nor warned about, for the uninstalled one."""
    monkeypatch.setattr(erasure, "LEFT_FILES_PER_PASS", 1)
    teams = ("T0EAST", "T0WEST")
    for team in teams:
        fake_slack.add_team(team, f"Initech {team}", enterprise_id=ORG, enterprise_name="Initech")
        assert (await install(web, "UADMIN", team=team)).status_code == 200
    east, west = (SlackDriver(web.client, fake_slack, team=team, enterprise=ORG) for team in teams)
    for slack in (east, west):
        assert "private chat" in (await slack.command(PERSON, "mydata"))["text"]
    fake_slack.fail_next("files.delete", status=500, times=2)
    assert (await _erase(west))["text"].startswith("Your data is erased.")
    east_file, west_file = (file_id for _, file_id in await _sent_files(sessions))

    fake_slack.uninstall("T0EAST")
    assert await east.event({"type": "app_uninstalled"}, event_id="EvUNINSTALL") == 200

    async def uninstalled() -> bool:
        async with sessions() as session:
            found = await session.scalar(
                select(Workspace.uninstalled_at).where(Workspace.external_id == "T0EAST")
            )
        return found is not None

    await eventually(uninstalled)
    await east.settle()
    deletes = len(fake_slack.calls_to("files.delete"))
    caplog.clear()
    summary = await jobs.run_job(clock_job(settings, sessions, clock.now() + timedelta(hours=1)), "retention")
    assert "1 files of erased members deleted" in str(summary)
    assert (fake_slack.files[east_file]["deleted"], fake_slack.files[west_file]["deleted"]) == (False, True)
    assert [call.params["file"] for call in fake_slack.calls_to("files.delete")[deletes:]] == [west_file]
    assert "cannot be deleted yet" not in caplog.text
    assert await _sent_files(sessions) == [("T0EAST", east_file)]  # it goes with the workspace's removal
