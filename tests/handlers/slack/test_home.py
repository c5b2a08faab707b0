"""The App Home tab: published on app_home_opened with my stats, networks, preferences and latest posts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from models import Member, Share
from tests.handlers.slack.driver import (
    START,
    SettingsFactory,
    SlackDriver,
    article_server,
    eventually,
    relais_app,
    setup_workspace,
)

Sessions = async_sessionmaker[AsyncSession]


def _text(view: dict[str, Any]) -> str:
    return str(view["blocks"])


async def _open_home(slack: SlackDriver, user: str, count: int) -> dict[str, Any]:
    status = await slack.event({"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"})
    assert status == 200
    await slack.fake.wait_for_calls("views.publish", count=count)
    return slack.fake.home_views[user]


async def test_home_shows_stats_preferences_and_latest_posts_with_share_buttons(
    slack: SlackDriver, sessions: Sessions
) -> None:
    empty = await _open_home(slack, "UEMP2", 1)
    assert empty["type"] == "home"
    assert "Nothing to share yet." in _text(empty)
    assert "Share a post to appear in the ranking." in _text(empty)

    async with article_server() as article:
        await slack.command("UADMIN", f"queue {article}/launch Proud of the team <#C0NEWS|news>")
    await slack.fake.wait_for_calls("chat.postMessage")
    home = await _open_home(slack, "UEMP2", 2)
    assert "Acme raises" in _text(home)
    action_ids = [e["action_id"] for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {"share_linkedin", "share_x", "home_nudges_off", "home_lang_fr"} <= set(action_ids)
    assert "Weekly reminders: on." in _text(home)

    # A share click in the Home has no response_url: the personal link arrives by DM.
    sent = await slack.click("UEMP2", "share_linkedin", "1", home=True)
    assert sent.status == 200
    dm = (await slack.fake.wait_for_calls("chat.postMessage", count=2))[-1]
    assert dm.params["channel"] == "UEMP2"
    assert "linkedin.com/sharing/share-offsite" in str(dm.params["blocks"])
    await slack.click("UEMP2", "open_share_linkedin", "1:linkedin", home=True)

    async def shared() -> bool:
        async with sessions() as session:
            return (await session.scalar(select(Share))) is not None

    await eventually(shared)
    thanks = (await slack.fake.wait_for_calls("chat.postMessage", count=3))[-1]
    assert (thanks.params["channel"], thanks.params["text"]) == (
        "UEMP2",
        "Thanks! Your share on LinkedIn is counted.",
    )


async def test_home_preferences_change_and_the_tab_is_republished(
    slack: SlackDriver, sessions: Sessions
) -> None:
    await _open_home(slack, "UEMP2", 1)
    await slack.click("UEMP2", "home_nudges_off", "", home=True)
    await slack.fake.wait_for_calls("views.publish", count=2)
    assert "Weekly reminders: off." in _text(slack.fake.home_views["UEMP2"])
    await slack.click("UEMP2", "home_lang_fr", "fr", home=True)
    await slack.fake.wait_for_calls("views.publish", count=3)
    assert "Rappels hebdomadaires : désactivés." in _text(slack.fake.home_views["UEMP2"])
    async with sessions() as session:
        member = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        assert (member.opted_out, member.language) == (True, "fr")


async def test_a_retried_home_event_is_answered_again(slack: SlackDriver) -> None:
    event = {"type": "app_home_opened", "user": "UEMP1", "channel": "D1", "tab": "home"}
    assert await slack.event(event, event_id="EvHOME") == 200
    assert await slack.event(event, event_id="EvHOME", retry=1) == 200
    await slack.fake.wait_for_calls("views.publish", count=2)
    assert "Vos préférences" in _text(slack.fake.home_views["UEMP1"])
    assert await slack.event({**event, "tab": "messages"}, event_id="EvMSG") == 200
    await slack.settle()
    assert len(slack.fake.calls_to("views.publish")) == 2


async def test_socket_mode_drives_the_same_listeners(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack
) -> None:
    from tests.conftest import APP_TOKEN

    setup_workspace(fake_slack)
    settings = make_settings(slack_app_token=APP_TOKEN)
    async with relais_app(settings, engine, FrozenClock(START), fake_slack):
        await fake_slack.socket_wait_connected()
        url = fake_slack.response_url("socket-help", channel="C0GENERAL", user="UEMP2")
        envelope = await fake_slack.socket_send(
            "slash_commands",
            {
                "token": "legacy",
                "team_id": "T0001",
                "team_domain": "acme",
                "channel_id": "C0GENERAL",
                "channel_name": "general",
                "user_id": "UEMP2",
                "user_name": "uemp2",
                "command": "/relais",
                "text": "help",
                "api_app_id": "A0001",
                "response_url": url,
                "trigger_id": "5555.6666.trigger",
            },
        )
        ack = await fake_slack.socket_wait_ack(envelope)
        assert ack["envelope_id"] == envelope
        reply = await slack_reply(fake_slack, "socket-help")
    assert "/relais me" in reply["text"]


async def slack_reply(fake: FakeSlack, url_id: str) -> dict[str, Any]:
    async def answered() -> bool:
        return bool(fake.responses_to(url_id))

    await eventually(answered)
    return fake.responses_to(url_id)[0]
