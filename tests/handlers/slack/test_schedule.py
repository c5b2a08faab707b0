"""`/relais schedule` and `/relais help points` through signed Slack requests."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Workspace
from tests.handlers.slack.driver import SlackDriver

Sessions = async_sessionmaker[AsyncSession]


async def test_admin_sees_and_sets_the_schedules(slack: SlackDriver, sessions: Sessions) -> None:
    shown = await slack.command("UADMIN", "schedule")
    assert "Reminders: tue at 10:00" in shown["text"]
    assert "Leaderboard: fri at 16:00 (UTC) in the default channel" in shown["text"]

    done = await slack.command("UADMIN", "schedule nudges thursday 9:30")
    assert done["text"] == "Done: reminders on thu at 09:30."
    done = await slack.command("UADMIN", "schedule leaderboard ven 17h <#C0GENERAL|general>")
    assert done["text"] == "Done: the leaderboard on fri at 17:00."
    shown = await slack.command("UADMIN", "schedule")
    assert "Reminders: thu at 09:30" in shown["text"]
    assert "Leaderboard: fri at 17:00 (Europe/Paris) in <#C0GENERAL>" in shown["text"]
    async with sessions() as session:
        workspace = await session.get_one(Workspace, 1)
        assert workspace.timezone == "Europe/Paris"  # the admin's Slack time zone
        assert workspace.settings["leaderboard"] == {
            "day": 4,
            "time": "17:00",
            "channel": "C0GENERAL",
            "lang": "en",
        }


async def test_bad_schedules_are_refused_and_change_nothing(slack: SlackDriver, sessions: Sessions) -> None:
    await slack.command("UADMIN", "schedule")
    cases = {
        "schedule nudges someday 10:00": "I don't know that day",
        "schedule nudges tue 25:00": "I don't understand that time",
        "schedule nudges sat 10:00": "never go out at weekends",
        "schedule nudges tue 20:00": "working hours only",
        "schedule coffee tue 10:00": "/relais schedule nudges <day> <HH:MM>",
        "schedule nudges tue": "/relais schedule nudges <day> <HH:MM>",
        "schedule leaderboard fri 16:00 #nowhere": "I can't find the channel #nowhere",
    }
    for command, fragment in cases.items():
        reply = await slack.command("UADMIN", command)
        assert fragment in reply["text"], (command, reply["text"])
    async with sessions() as session:
        workspace = await session.get_one(Workspace, 1)
        assert workspace.settings == {}
    refused = await slack.command("UEMP2", "schedule nudges tue 10:00")
    assert refused["text"].startswith("Only Relais admins can use `/relais schedule`")


async def test_help_points_explains_the_rules_in_the_members_language(slack: SlackDriver) -> None:
    english = await slack.command("UEMP2", "help points")
    assert "a share posted through the network's API: 10" in english["text"]
    french = await slack.command("UEMP1", "help points")
    assert "un partage publié par l'API du réseau : 10" in french["text"]
