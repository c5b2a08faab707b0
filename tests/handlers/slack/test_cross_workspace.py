"""Two Slack workspaces installed through OAuth v2 (Acme and Globex), each with a post, a share, a tracked
link and a suggestion of its own; then every way a request from one can name the other, in each
direction: its post, share and suggestion ids on buttons, modals and `/relais` subcommands; and requests
signed with the app's signing secret (as Slack signs every workspace's) that carry the other workspace's
team id with this workspace's member ids; the admin web pages; an erasure. What the intruder sees is a
refusal or nothing, never a 5xx nor the other workspace's data; the other workspace's rows are the same
before and after (a snapshot of every row it holds)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.config import Settings
from bot.demo.fake_slack import FakeSlack
from handlers.slack.blocks.modals import EDIT_CALLBACK
from models import Base, ConversationRef, Member, Post, Share, SlackInstallation, Suggestion, Workspace
from tests.handlers.slack.driver import (
    TEAM,
    Sent,
    SlackDriver,
    queue_form,
    relais_app,
    setup_workspace,
)
from tests.handlers.slack.test_install import GLOBEX, install
from tests.handlers.slack.test_install import settings as settings  # the installs' settings
from tests.handlers.slack.test_signin import Browser, Site, shown
from tests.workspace_integrity import assert_rows_stay_in_their_workspace

Sessions = async_sessionmaker[AsyncSession]
Rows = dict[str, list[tuple[Any, ...]]]


@dataclass
class Side:
    """One workspace as the tests meet it: its people, channel and rows."""

    name: str
    team: str
    admin: str
    employee: str
    channel: str
    title: str  # the caption of its post (both posts' page has the same title)
    people: tuple[str, ...]
    url: str = ""
    post: int = 0
    share: int = 0
    suggestion: int = 0
    suggested: str = ""


@dataclass
class Pair:
    web: SlackDriver
    sides: dict[str, Side]

    def driver(self, side: Side, *, team: str | None = None) -> SlackDriver:
        return SlackDriver(self.web.client, self.web.fake, team=team or side.team)


@pytest.fixture
async def pair(
    settings: Settings,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    sessions: Sessions,
    article: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Pair]:
    """Acme and Globex, each installed by its admin, with a post in its channel that its employee shared
    through their personal link, and a suggestion of that employee's waiting for review. Each workspace's
    people and channels are known to its own token only (the demo's Acme ones are seen from every
    workspace otherwise)."""
    monkeypatch.setenv("SLACK_CLIENT_ID", fake_slack.client_id)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", fake_slack.client_secret)
    setup_workspace(fake_slack)
    for user, name, admin in (("UADMIN", "Ada Admin", True), ("UEMP2", "Bob", False)):
        fake_slack.add_user(user, real_name=name, is_admin=admin, tz="Europe/London", team_id=TEAM)
    for channel, name in (("C0NEWS", "news"), ("C0GENERAL", "general")):
        fake_slack.add_channel(channel, name, team_id=TEAM)
    fake_slack.add_team(GLOBEX, "Globex")
    fake_slack.add_user("UGADMIN", real_name="Gina Admin", is_admin=True, tz="Europe/London", team_id=GLOBEX)
    fake_slack.add_user("UGEMP", real_name="Gus", tz="Europe/London", team_id=GLOBEX)
    fake_slack.add_channel("C0GNEWS", "globex-news", team_id=GLOBEX)
    sides = {
        "acme": Side("acme", TEAM, "UADMIN", "UEMP2", "C0NEWS", "Acme news", ("Ada Admin", "Bob")),
        "globex": Side("globex", GLOBEX, "UGADMIN", "UGEMP", "C0GNEWS", "Globex news", ("Gina Admin", "Gus")),
    }
    async with relais_app(settings, engine, clock, fake_slack) as web:
        made = Pair(web, sides)
        for side in sides.values():
            assert (await install(web, side.admin, team=side.team)).status_code == 200
            slack = made.driver(side)
            side.url, side.suggested = f"{article}/{side.name}", f"{article}/{side.name}-idea"
            queued = await slack.command(
                side.admin, f"queue <{side.url}> {side.title} <#{side.channel}|news>"
            )
            assert "is being published" in queued["text"], queued
            async with sessions() as session:
                side.post = (await session.scalars(select(Post.id).where(Post.url == side.url))).one()
            opened = await slack.click(
                side.employee, "open_share_linkedin", f"{side.post}:linkedin", channel=side.channel
            )
            assert (await slack.responses(opened.url_id))[0]["text"].startswith("Thanks!")
            suggested = await slack.command(side.employee, f"suggest <{side.suggested}> why")
            assert suggested["text"].startswith("Thanks! Your suggestion was sent to the admins")
            async with sessions() as session:
                side.share = (await session.scalars(select(Share.id).where(Share.post_id == side.post))).one()
                side.suggestion = (
                    await session.scalars(select(Suggestion.id).where(Suggestion.url == side.suggested))
                ).one()
        await web.settle()
        yield made


# Tables of scores worked out from the shares, kept for the next reader (not facts a request changes).
SETTLED = frozenset({"points_refresh", "settled_points"})
DIRECTIONS = [
    pytest.param("acme", "globex", id="acme-to-globex"),
    pytest.param("globex", "acme", id="globex-to-acme"),
]


async def snapshot(sessions: Sessions, team: str, *, strangers: tuple[str, ...] = ()) -> Rows:
    """Every row of workspace `team` (every table is scoped to a workspace; its installation by team id),
    but the rows of `strangers` (ids a forged request made Relais meet there: see `stranger_rows`): their
    member rows, and how to reach them."""
    rows: Rows = {}
    async with sessions() as session:
        workspace_id = (
            await session.scalars(select(Workspace.id).where(Workspace.external_id == team))
        ).one()
        for table in Base.metadata.sorted_tables:
            if table.name == Workspace.__tablename__:
                query = select(table).where(table.c.id == workspace_id)
            elif table.name == SlackInstallation.__tablename__:
                query = select(table).where(table.c.team_id == team)
            elif "workspace_id" in table.c:
                query = select(table).where(table.c.workspace_id == workspace_id)
            else:
                continue
            if table.name == Member.__tablename__ and strangers:
                query = query.where(table.c.external_id.not_in(strangers))
            if table.name == ConversationRef.__tablename__ and strangers:  # how to reach them (Teams)
                query = query.where(table.c.key.not_in(strangers))
            rows[table.name] = sorted((tuple(row) for row in (await session.execute(query)).all()), key=repr)
    return rows


async def stranger_rows(sessions: Sessions, team: str, ids: tuple[str, ...]) -> list[tuple[bool, bool]]:
    """(is_admin, active) of the member rows that `ids` have in workspace `team`."""
    async with sessions() as session:
        found = await session.execute(
            select(Member.is_admin, Member.active)
            .join(Workspace, Workspace.id == Member.workspace_id)
            .where(Workspace.external_id == team, Member.external_id.in_(ids))
        )
        return [(bool(admin), bool(active)) for admin, active in found.all()]


def seen_by(fake: FakeSlack, user: str, since: int) -> str:
    """Everything Relais said to `user` after call number `since`: DMs, ephemerals, modals opened."""
    said = [
        json.dumps(call.params, default=str)
        for call in fake.calls[since:]
        if call.method == "views.open"
        or (
            call.method in ("chat.postMessage", "chat.postEphemeral", "views.publish")
            and user in (call.params.get("channel"), call.params.get("user"), call.params.get("user_id"))
        )
    ]
    return "\n".join(said)


def written_to(fake: FakeSlack, since: int, *places: str) -> list[str]:
    """The calls after call number `since` that wrote something into one of `places` (a channel, a
    person's DM)."""
    return [
        call.method
        for call in fake.calls[since:]
        if not call.method.startswith(("conversations.", "users."))
        and {call.params.get(name) for name in ("channel", "channels", "user", "user_id")} & set(places)
    ]


def leaks(text: str, other: Side) -> list[str]:
    """What of the other workspace a text shows: its post's address or title, its suggestion, its people."""
    needles = (other.url, other.title, other.suggested, *other.people)
    return [needle for needle in needles if needle in text]


async def answered(slack: SlackDriver, sent: Sent) -> str:
    """What the app answered a request through its response_url (all of it, as JSON text)."""
    assert sent.status == 200
    return json.dumps(await slack.responses(sent.url_id))


# ---------------------------------------------------------------------------------------------------------
# Ids of the other workspace's rows, named from one's own workspace


@pytest.mark.parametrize(("home", "away"), DIRECTIONS)
async def test_buttons_forms_and_commands_naming_the_other_workspaces_rows_change_nothing_there(
    pair: Pair, sessions: Sessions, fake_slack: FakeSlack, home: str, away: str
) -> None:
    mine, other = pair.sides[home], pair.sides[away]
    slack = pair.driver(mine)
    before = await snapshot(sessions, other.team)
    since = len(fake_slack.calls)
    told: list[str] = []

    # The post buttons, clicked in one's own channel with the other workspace's post id.
    for action, value in (
        ("share_linkedin", str(other.post)),
        ("share_x", str(other.post)),
        ("open_share_linkedin", f"{other.post}:linkedin"),
        ("open_share_x", f"{other.post}:x"),
        ("not_for_me", str(other.post)),
    ):
        text = await answered(slack, await slack.click(mine.employee, action, value, channel=mine.channel))
        assert "no longer available" in text or "no post" in text, (action, text)
        told.append(text)
    # Undo and "post it again" with the other workspace's share id.
    for action in ("share_undo", "share_repost"):
        sent = await slack.click(mine.employee, action, str(other.share), channel=mine.channel)
        told.append(await answered(slack, sent))
        assert "This post is no longer available." in told[-1], (action, told[-1])
    # Edit & share: opening it, and submitting it with the other workspace's post in its metadata.
    assert (
        await slack.click(mine.employee, "edit_share", str(other.post), channel=mine.channel)
    ).status == 200
    form: dict[str, dict[str, Any]] = {
        "caption": {"type": "plain_text_input", "value": "My own words"},
        "network": {"type": "radio_buttons", "selected_option": {"value": "linkedin"}},
    }
    edited = await slack.submit(
        mine.employee, EDIT_CALLBACK, form, private_metadata=json.dumps({"post_id": other.post})
    )
    assert edited.status_code == 200
    told.append(edited.text)
    await pair.web.settle()
    dms = [(c.params["channel"], c.params.get("text")) for c in fake_slack.calls_to("chat.postMessage")[-2:]]
    assert dms == [(mine.employee, "This post is no longer available.")] * 2  # opened, then submitted
    # An admin reviewing the other workspace's suggestion.
    for action in ("suggestion_approve", "suggestion_reject"):
        assert (
            await slack.click(mine.admin, action, str(other.suggestion), channel=mine.admin)
        ).status == 200
    # Subcommands taking a post id, and the admin's views of their workspace.
    cancelled = await slack.command(mine.admin, f"cancel {other.post}")
    assert cancelled["text"] == f"There is no post #{other.post} here (see `/relais list`)."
    for typed in ("list", "stats", "me", "mydata"):
        told.append(json.dumps(await slack.command(mine.admin, typed)))
    # Subcommands naming the other workspace's channel (looked up with this workspace's token).
    for typed in (
        f"channel <#{other.channel}|news>",
        f"schedule leaderboard fri 16:00 <#{other.channel}|news>",
        f"queue <{mine.url}/into> Into <#{other.channel}|news>",
    ):
        reply = await slack.command(mine.admin, typed)
        assert reply["text"].startswith("I can't find the channel #news."), (typed, reply)
    await pair.web.settle()

    told.append(seen_by(fake_slack, mine.employee, since))
    told.append(seen_by(fake_slack, mine.admin, since))
    assert f"There is no suggestion #{other.suggestion}." in told[-1]
    assert [leaks(text, other) for text in told] == [[] for _ in told]
    assert not [c for c in fake_slack.calls[since:] if c.method == "views.open"]  # no form for their rows
    assert written_to(fake_slack, since, other.channel, other.admin, other.employee) == []
    assert await snapshot(sessions, other.team) == before
    await assert_rows_stay_in_their_workspace(sessions)


# ---------------------------------------------------------------------------------------------------------
# Signed requests carrying the other workspace's team id, with one's own member ids


@pytest.mark.parametrize(("home", "away"), DIRECTIONS)
async def test_a_forged_team_id_gives_no_right_and_no_data_of_that_workspace(
    pair: Pair, sessions: Sessions, fake_slack: FakeSlack, home: str, away: str
) -> None:
    """The app's one signing secret signs every workspace's requests, so a request is judged by who it
    names: this workspace's admin and employee, named in the other workspace, are strangers there (its
    token does not know them): no admin right, none of its rows read or changed."""
    mine, other = pair.sides[home], pair.sides[away]
    forged = pair.driver(mine, team=other.team)
    intruders = (mine.admin, mine.employee)
    before = await snapshot(sessions, other.team, strangers=intruders)
    since = len(fake_slack.calls)
    told: list[str] = []

    for typed in (
        "list",
        "stats",
        "dashboard",
        "schedule",
        f"cancel {other.post}",
        f"channel <#{other.channel}|news>",
        f"queue <{mine.url}/x> X",
    ):
        reply = await forged.command(mine.admin, typed)
        assert reply["text"].startswith("Only Relais admins can use"), (typed, reply)
    for typed in ("me", "mydata", "help"):
        told.append(json.dumps(await forged.command(mine.admin, typed)))
    sent = await forged.click(mine.employee, "share_undo", str(other.share), channel=other.channel)
    told.append(await answered(forged, sent))
    for action in ("suggestion_approve", "suggestion_reject"):
        assert (
            await forged.click(mine.admin, action, str(other.suggestion), channel=mine.admin)
        ).status == 200
    # The App Home opened there, and its preference buttons: the stranger's own (empty) Home.
    opened = {"type": "app_home_opened", "user": mine.employee, "tab": "home", "channel": "D0HOME"}
    assert await forged.event(opened, event_id=f"EvHOME{mine.employee}") == 200
    for action in ("home_nudges_off", "home_lang_en"):
        assert (await forged.click(mine.employee, action, "", home=True)).status == 200
    # A modal of the other workspace's installation submitted from this one (as through a Slack Connect
    # channel, whose form's `team` is the user's own): it acts where it was installed, where this admin
    # is nobody.
    form = queue_form(f"{mine.url}/modal", "Caption", channels=(other.channel,))
    refused = await pair.driver(mine).submit(mine.admin, "queue_modal", form, installed_team=other.team)
    assert refused.status_code == 200
    assert "Only Relais admins can use" in refused.text, refused.text
    # Forget me there, with a question naming the other workspace's employee: stale, nobody erased.
    theirs = await member_id(sessions, other.team, other.employee)
    [value] = confirm_values(await forged.command(mine.employee, "forget-me"))
    lang, _, asked_at = value.split(":")
    clicked = await forged.click(
        mine.employee, "forget_me_confirm", f"{lang}:{theirs}:{asked_at}", channel="C0GENERAL", ephemeral=True
    )
    assert "This question has expired: nothing was erased." in await answered(forged, clicked)
    await pair.web.settle()

    told += [seen_by(fake_slack, user, since) for user in intruders]
    assert fake_slack.calls_to("views.publish")[-1].params["user_id"] == mine.employee
    assert [leaks(text, other) for text in told] == [[] for _ in told]
    assert not [c for c in fake_slack.calls[since:] if c.method == "views.open"]
    assert written_to(fake_slack, since, other.channel, other.admin, other.employee) == []
    after = await snapshot(sessions, other.team, strangers=intruders)
    # The workspace's points, settled when a member there asks for their own (`me`): the same figures.
    assert {k: v for k, v in after.items() if k not in SETTLED} == {
        k: v for k, v in before.items() if k not in SETTLED
    }
    assert [admin for admin, _ in await stranger_rows(sessions, other.team, intruders)] == [False, False]
    await assert_rows_stay_in_their_workspace(sessions)


@pytest.mark.parametrize(("home", "away"), DIRECTIONS)
async def test_a_forged_team_id_shares_none_of_that_workspaces_posts(
    pair: Pair, sessions: Sessions, fake_slack: FakeSlack, home: str, away: str
) -> None:
    """The post buttons, clicked with the other workspace's team id and post id by this workspace's
    employee (unknown to the other workspace's token): refused, its caption not shown, no share, tracked
    link or Not for me recorded there."""
    mine, other = pair.sides[home], pair.sides[away]
    forged = pair.driver(mine, team=other.team)
    before = await snapshot(sessions, other.team, strangers=(mine.employee,))
    told: list[str] = []
    for action, value in (
        ("share_linkedin", str(other.post)),
        ("open_share_linkedin", f"{other.post}:linkedin"),
        ("not_for_me", str(other.post)),
    ):
        sent = await forged.click(mine.employee, action, value, channel=other.channel)
        told.append(await answered(forged, sent))
    await pair.web.settle()
    assert [leaks(text, other) for text in told] == [[], [], []]
    assert not any("counted" in text or "Noted" in text for text in told), told
    assert await snapshot(sessions, other.team, strangers=(mine.employee,)) == before


async def member_id(sessions: Sessions, team: str, user: str) -> int:
    async with sessions() as session:
        found: int = (
            await session.scalars(
                select(Member.id)
                .join(Workspace, Workspace.id == Member.workspace_id)
                .where(Workspace.external_id == team, Member.external_id == user)
            )
        ).one()
    return found


def confirm_values(asked: dict[str, Any]) -> list[str]:
    """The values of the Erase my data buttons of a `/relais forget-me` answer."""
    return [
        str(element["value"])
        for block in asked["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "forget_me_confirm"
    ]


@pytest.mark.parametrize(("home", "away"), DIRECTIONS)
async def test_a_forget_me_button_naming_the_other_workspaces_member_erases_no_one_there(
    pair: Pair, sessions: Sessions, home: str, away: str
) -> None:
    """The confirm button carries the member row it was asked for; one naming the other workspace's
    employee, clicked here, is a stale question: nobody there is erased (and the clicker neither)."""
    mine, other = pair.sides[home], pair.sides[away]
    slack = pair.driver(mine)
    theirs = await member_id(sessions, other.team, other.employee)
    [value] = confirm_values(await slack.command(mine.employee, "forget-me"))
    lang, _, asked_at = value.split(":")
    before = await snapshot(sessions, other.team)
    mine_before = await snapshot(sessions, mine.team)
    clicked = await slack.click(
        mine.employee, "forget_me_confirm", f"{lang}:{theirs}:{asked_at}", channel="C0GENERAL", ephemeral=True
    )
    [said] = await slack.responses(clicked.url_id)
    assert said["text"].startswith("This question has expired: nothing was erased."), said
    assert await snapshot(sessions, other.team) == before
    assert await snapshot(sessions, mine.team) == mine_before
    await assert_rows_stay_in_their_workspace(sessions)


# ---------------------------------------------------------------------------------------------------------
# The web pages of a signed-in admin: their own workspace's figures only


@pytest.mark.parametrize(("home", "away"), DIRECTIONS)
async def test_the_admin_pages_of_one_workspace_show_nothing_of_the_other(
    pair: Pair, sessions: Sessions, fake_slack: FakeSlack, clock: FrozenClock, home: str, away: str
) -> None:
    """Signed in with Slack, an admin's dashboard, a post's page and their CSV files are their own
    workspace's; the other workspace's post, named in the address, is not found."""
    mine, other = pair.sides[home], pair.sides[away]
    site = Site(Browser(pair.web.client), fake_slack, clock, sessions)
    authorize = await site.to_slack("/admin")
    fake_slack.sign_in_as(mine.admin, team_id=mine.team)
    assert (await site.browser.get(await site.consent(authorize))).status_code == 303
    before = await snapshot(sessions, other.team)

    own = await site.browser.get(f"/admin/posts/{mine.post}")
    assert own.status_code == 200
    assert mine.url in shown(own)  # the page does show a post: its own workspace's
    for path in ("/admin", "/admin/posts.csv", "/admin/advocates.csv", "/me", "/me/data"):
        page = await site.browser.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert leaks(shown(page), other) == [], path
    for path in (f"/admin/posts/{other.post}", f"/admin/posts/{other.post}/captions.csv"):
        page = await site.browser.get(path)
        assert page.status_code == 404, (path, page.status_code)
        assert leaks(shown(page), other) == [], path
    assert await snapshot(sessions, other.team) == before
    await assert_rows_stay_in_their_workspace(sessions)


@pytest.mark.parametrize(("home", "away"), DIRECTIONS)
async def test_erasing_a_member_leaves_the_same_id_in_the_other_workspace_alone(
    pair: Pair, sessions: Sessions, home: str, away: str
) -> None:
    """Outside an Enterprise Grid organisation a user id names a person of one workspace: the member's
    `/relais forget-me` erases their row here, not the row the same id has in the other workspace (met
    there through a request naming it)."""
    mine, other = pair.sides[home], pair.sides[away]
    slack, there = pair.driver(mine), pair.driver(mine, team=other.team)
    assert (await there.command(mine.employee, "me"))["text"].startswith("*Your sharing*")
    before = await snapshot(sessions, other.team)
    [value] = confirm_values(await slack.command(mine.employee, "forget-me"))
    clicked = await slack.click(
        mine.employee, "forget_me_confirm", value, channel="C0GENERAL", ephemeral=True
    )
    assert (await slack.responses(clicked.url_id))[0]["text"].startswith("Your data is erased.")
    assert await snapshot(sessions, other.team) == before
    assert await stranger_rows(sessions, other.team, (mine.employee,)) == [(False, False)]
    assert await stranger_rows(sessions, mine.team, (mine.employee,)) == []  # erased: its id is gone here
    await assert_rows_stay_in_their_workspace(sessions)
