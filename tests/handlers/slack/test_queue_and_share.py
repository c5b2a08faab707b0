"""End to end through POST /slack/events: an admin queues a link, it is pushed with share buttons,
employees share through their personal links, clicks are counted, and bad input changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.services import hotpath
from bot.services import posts as post_service
from models import (
    Click,
    Delivery,
    Dismissal,
    Member,
    OutboxMessage,
    OutboxState,
    Post,
    PostState,
    Share,
    TrackedLink,
    VisitTally,
)
from tests.handlers.slack.driver import (
    START,
    SettingsFactory,
    SlackDriver,
    eventually,
    relais_app,
    setup_workspace,
)

Sessions = async_sessionmaker[AsyncSession]


async def _count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for block in message["blocks"] if block["type"] == "actions" for e in block["elements"]]


async def _queue(
    slack: SlackDriver, sessions: Sessions, article: str, text: str = ""
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Queue `article` into #news as the admin; return the admin's reply and the channel message, once
    the push is recorded as delivered."""
    reply = await slack.command("UADMIN", f"queue <{article}/launch?ref=blog> {text} <#C0NEWS|news>".strip())

    async def delivered() -> bool:
        return await _count(sessions, Delivery) == 1

    await eventually(delivered)
    return reply, slack.fake.messages["C0NEWS"][-1]


async def test_admin_queues_a_link_and_it_is_pushed_with_share_buttons(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    reply, message = await _queue(slack, sessions, article, "We are growing!")
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == "Post #1 is being published in <#C0NEWS>. I'll tell you if a channel refuses it."

    assert "Acme raises &amp; grows" in message["text"]  # fallback text always set, escaped as Slack wants
    preview = message["blocks"][0]
    assert "Acme raises &amp; grows" in preview["text"]["text"]
    assert "Acme announces its new round." in preview["text"]["text"]
    assert preview["accessory"]["image_url"] == f"{article}/images/cover.png"
    assert "We are growing!" in message["blocks"][1]["elements"][0]["text"]
    assert [b["action_id"] for b in _buttons(message)] == [
        "share_linkedin",
        "share_x",
        "edit_share",
        "not_for_me",
    ]
    assert {b["value"] for b in _buttons(message)} == {"1"}

    async def sent() -> bool:
        return await _count(sessions, OutboxMessage, OutboxMessage.state == OutboxState.SENT) == 1

    await eventually(sent)
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
        assert post.state is PostState.PUBLISHED
        assert post.title == "Acme raises & grows"
        assert post.captions == ["We are growing!"]
        assert post.channels == ["C0NEWS"]
        delivery = (await session.scalars(select(Delivery))).one()
        assert (delivery.destination, delivery.message_id) == ("C0NEWS", message["ts"])
        outbox = (await session.scalars(select(OutboxMessage))).one()
        assert outbox.state is OutboxState.SENT


async def test_unreachable_page_still_works_with_the_url_alone(slack: SlackDriver) -> None:
    reply = await slack.command("UADMIN", "queue https://unreachable.invalid/news <#C0NEWS|news>")
    assert reply["text"].startswith("Post #1 is being published")
    assert "couldn't read the page" in reply["text"]
    await slack.fake.wait_for_calls("chat.postMessage")
    message = slack.fake.messages["C0NEWS"][-1]
    assert "https://unreachable.invalid/news" in message["text"]


async def test_queue_uses_the_default_channel(slack: SlackDriver, article: str) -> None:
    reply = await slack.command("UADMIN", f"queue {article}/a")
    assert reply["text"].startswith("Where should this go?")
    reply = await slack.command("UADMIN", "channel <#C0NEWS|news>")
    assert reply["text"] == "New posts will go to <#C0NEWS> by default."
    reply = await slack.command("UADMIN", f"queue {article}/a")
    assert reply["text"] == "Post #1 is being published in <#C0NEWS>. I'll tell you if a channel refuses it."


async def test_a_non_admin_is_refused_and_nothing_changes(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    for text in (f"queue {article}/x <#C0NEWS|news>", "cancel 1", "list", "channel <#C0NEWS|news>"):
        reply = await slack.command("UEMP2", text)
        assert reply["text"].startswith("Only Relais admins can use `/relais"), text
    await slack.settle()
    assert await _count(sessions, Post) == 0
    assert slack.fake.calls_to("chat.postMessage") == []


async def test_relais_channel_setting_is_the_fallback_channel(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    article: str,
) -> None:
    setup_workspace(fake_slack)
    async with relais_app(make_settings(relais_channel="C0GENERAL"), engine, clock, fake_slack) as slack:
        reply = await slack.command("UADMIN", f"queue {article}/x")
        await slack.fake.wait_for_calls("chat.postMessage")
    assert (
        reply["text"] == "Post #1 is being published in <#C0GENERAL>. I'll tell you if a channel refuses it."
    )
    assert slack.fake.calls_to("chat.postMessage")[0].params["channel"] == "C0GENERAL"


async def test_relais_admins_setting_makes_an_admin(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    clock: FrozenClock,
    article: str,
) -> None:
    setup_workspace(fake_slack)
    async with relais_app(make_settings(relais_admins="UEMP2"), engine, clock, fake_slack) as slack:
        reply = await slack.command("UEMP2", f"queue {article}/x <#C0NEWS|news>")
    assert reply["text"] == "Post #1 is being published in <#C0NEWS>. I'll tell you if a channel refuses it."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("suggest", "Give me a link"),
        ("queue javascript:alert(1)", "doesn't look like a link"),
        ("queue not-a-url", "doesn't look like a link"),
        ("queue https://example.com/a <#C0NOPE|nope>", "I can't find the channel #nope"),
        ("queue https://example.com/a #nowhere", "I can't find the channel #nowhere"),
        ("queue https://example.com/a <#C0NEWS|news> at 2020-01-01 09:00", "is in the past"),
        ("queue https://example.com/a <#C0NEWS|news> at tomorrow 25:00", "not a valid time"),
        ("queue http://127.0.0.1:9/admin <#C0NEWS|news>", "private or local network"),
        ("queue http://169.254.169.254/latest/meta-data/ <#C0NEWS|news>", "private or local network"),
        ("queue http://localhost/ <#C0NEWS|news>", "private or local network"),
        ("cancel", "Which post?"),
        ("cancel 42", "There is no post #42"),
        ("cancel abc", "“abc” is not a post number"),
        ("frobnicate", "I don't know `frobnicate`"),
    ],
)
async def test_bad_input_gets_a_clear_message_and_creates_nothing(
    slack: SlackDriver, sessions: Sessions, text: str, expected: str
) -> None:
    sent = await slack.send_command("UADMIN", text)
    assert sent.status == 200
    reply = (await slack.responses(sent.url_id))[0]
    assert expected in reply["text"]
    assert reply["response_type"] == "ephemeral"
    await slack.settle(0.05)
    assert await _count(sessions, Post) == 0
    assert slack.fake.calls_to("chat.postMessage") == []


async def test_a_redirect_to_a_private_address_is_refused(slack: SlackDriver, sessions: Sessions) -> None:
    from aiohttp import web

    app = web.Application()

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://127.0.0.1:9/internal")

    app.router.add_get("/", bounce)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.2", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        reply = await slack.command("UADMIN", f"queue http://127.0.0.2:{port}/ <#C0NEWS|news>")
    finally:
        await runner.cleanup()
    assert "private or local network" in reply["text"]
    assert await _count(sessions, Post) == 0


async def test_help_lists_what_the_caller_may_do(slack: SlackDriver) -> None:
    employee = await slack.command("UEMP2", "help")
    admin = await slack.command("UADMIN", "help")
    assert "/relais me" in employee["text"]
    assert "/relais queue" not in employee["text"]
    assert "/relais queue" in admin["text"]


async def test_employee_gets_a_personal_link_and_opening_it_records_one_share(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    _, message = await _queue(slack, sessions, article, "Big news")
    clicked = await slack.click("UEMP2", "share_linkedin", "1", message_ts=message["ts"])
    assert clicked.status == 200
    answer = (await slack.responses(clicked.url_id))[0]
    assert answer["response_type"] == "ephemeral"
    assert answer["replace_original"] is False
    assert "Big news" in answer["blocks"][0]["text"]["text"]
    open_button = answer["blocks"][1]["elements"][0]
    assert open_button["action_id"] == "open_share_linkedin"
    shared_url = parse_qs(urlsplit(open_button["url"]).query)["url"][0]
    assert open_button["url"].startswith("https://www.linkedin.com/sharing/share-offsite/?url=")
    assert shared_url.startswith("https://relais.example.test/r/")
    code = shared_url.rsplit("/", 1)[1]
    assert len(code) >= 16  # 96 random bits, url-safe

    async with sessions() as session:
        link = (await session.scalars(select(TrackedLink))).one()
        assert link.code == code
    assert await _count(sessions, Share) == 0  # only opening the link counts as a share

    opened = await slack.click(
        "UEMP2", "open_share_linkedin", "1:linkedin", url=open_button["url"], ephemeral=True
    )
    assert opened.status == 200
    thanks = (await slack.responses(opened.url_id))[0]
    assert thanks["text"] == "Thanks! Your share on LinkedIn is counted."
    async with sessions() as session:
        share = (await session.scalars(select(Share))).one()
        assert (share.network.value, share.status.value, share.caption) == ("linkedin", "intent", "Big news")


async def test_double_parallel_and_retried_clicks_record_one_share(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    await _queue(slack, sessions, article)
    first = await slack.click("UEMP1", "open_share_x", "1:x", ephemeral=True)
    again = await slack.click("UEMP1", "open_share_x", "1:x", ephemeral=True)
    parallel = await asyncio.gather(
        *(slack.click("UEMP1", "open_share_x", "1:x", ephemeral=True) for _ in range(20))
    )
    retried = await slack.click("UEMP1", "open_share_x", "1:x", ephemeral=True, retry=1)
    assert all(sent.status == 200 for sent in [first, again, *parallel, retried])
    await slack.settle()
    assert await _count(sessions, Share) == 1
    thanks = [r for r in slack.fake.responses if r.get("text", "").startswith("Merci")]
    assert len(thanks) == 1  # the member is thanked once, in French (fr-FR locale)


async def test_tracked_link_redirects_with_utm_and_counts_humans_once(
    slack: SlackDriver, article: str, sessions: Sessions, clock: FrozenClock
) -> None:
    await _queue(slack, sessions, article)
    clicked = await slack.click("UEMP2", "share_x", "1")
    answer = (await slack.responses(clicked.url_id))[0]
    intent = answer["blocks"][1]["elements"][0]["url"]
    assert intent.startswith("https://x.com/intent/tweet?")
    link = parse_qs(urlsplit(intent).query)["url"][0]
    path = urlsplit(link).path

    browser = {"User-Agent": "Mozilla/5.0 (Macintosh) Safari/605.1.15", "X-Forwarded-For": "203.0.113.7"}
    response = await slack.client.get(path, headers=browser)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{article}/launch"
    query = parse_qs(location.query)
    assert query == {"ref": ["blog"], "utm_source": ["x"], "utm_medium": ["employee_advocacy"],
                     "utm_campaign": ["relais-1"]}  # fmt: skip

    assert (await slack.client.get(path, headers=browser)).status_code == 302  # same visitor, same hour
    bot = {
        "User-Agent": "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)"
    }
    assert (await slack.client.get(path, headers=bot)).status_code == 302
    other = {"User-Agent": "Mozilla/5.0 (Windows) Firefox/140.0", "X-Forwarded-For": "198.51.100.4"}
    assert (await slack.client.get(path, headers=other)).status_code == 302
    clock.advance(timedelta(hours=1, minutes=1))
    assert (await slack.client.get(path, headers=browser)).status_code == 302

    async with sessions() as session:
        clicks = (await session.scalars(select(Click).order_by(Click.id))).all()
        tallies = (await session.scalars(select(VisitTally))).all()
    # The repeat and the robot are counters, not rows.
    assert [(c.counted, c.hour) for c in clicks] == [
        (True, START.replace(minute=0)),
        (True, START.replace(minute=0)),
        (True, START.replace(hour=10)),
    ]
    assert [(t.hour, t.repeats, t.robots) for t in tallies] == [(START.replace(minute=0), 1, 1)]
    assert all(c.visitor and "203.0.113.7" not in c.visitor for c in clicks)

    missing = await slack.client.get("/r/doesnotexist0000")
    assert missing.status_code == 404
    assert "Link not found" in missing.text


async def test_cancel_marks_the_channel_message_and_stops_the_buttons(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    _, message = await _queue(slack, sessions, article)
    before = await slack.click(
        "UEMP3", "open_share_linkedin", "1:linkedin", ephemeral=True
    )  # caches the post
    assert (await slack.responses(before.url_id))[0]["text"].startswith("Thanks!")
    reply = await slack.command("UADMIN", "cancel 1")
    assert reply["text"].startswith("Post #1 is cancelled")
    await slack.fake.wait_for_calls("chat.update")
    updated = slack.fake.find_message("C0NEWS", message["ts"])
    assert updated is not None
    assert _buttons(updated) == []
    assert "withdrawn" in str(updated["blocks"])

    clicked = await slack.click("UEMP2", "share_linkedin", "1", message_ts=message["ts"])
    assert (await slack.responses(clicked.url_id))[0]["text"] == "This post is no longer available."
    opened = await slack.click("UEMP2", "open_share_linkedin", "1:linkedin", ephemeral=True)
    assert (await slack.responses(opened.url_id))[0]["text"] == "This post is no longer available."
    assert await _count(sessions, Share) == 1  # only Carla's, from before the cancel
    again = await slack.command("UADMIN", "cancel 1")
    assert again["text"] == "Post #1 is already cancelled."


async def test_scheduled_post_waits_for_its_time(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    reply = await slack.command("UADMIN", f"queue {article}/later Read this at tomorrow 9:00 <#C0NEWS|news>")
    # Tomorrow 9:00 in Paris (the admin's Slack time zone) is 08:00 UTC.
    assert reply["text"] == "Post #1 will be published in <#C0NEWS> on 2026-11-26 09:00."
    await slack.settle()
    assert slack.fake.calls_to("chat.postMessage") == []
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
        assert post.state is PostState.SCHEDULED
        assert post.captions == ["Read this"]
        assert post.publish_at is not None
        assert post.publish_at.isoformat() == "2026-11-26T08:00:00+00:00"
    listing = await slack.command("UADMIN", "list")
    assert "`#1` scheduled 2026-11-26 09:00" in listing["text"]


async def test_french_member_is_answered_in_french(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    await _queue(slack, sessions, article)
    clicked = await slack.click("UEMP1", "share_x", "1")
    answer = (await slack.responses(clicked.url_id))[0]
    assert answer["blocks"][1]["elements"][0]["text"]["text"] == "Ouvrir X"
    reply = await slack.command("UEMP1", "help")
    assert "vous aide à partager" in reply["text"]
    assert (await slack.command("UEMP1", "lang en"))["text"] == "I'll speak English with you."
    assert "helps you share" in (await slack.command("UEMP1", "help"))["text"]


async def test_pause_resume_and_optout_are_remembered(slack: SlackDriver, sessions: Sessions) -> None:
    assert (await slack.command("UEMP2", "pause 2"))["text"].startswith("Reminders paused until 2026-12-09")
    assert (await slack.command("UEMP2", "pause 99"))["text"].startswith("Pause for 1 to 52 weeks")
    async with sessions() as session:
        member = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        assert member.paused_until is not None
    assert (await slack.command("UEMP2", "optout"))["text"].startswith("You won't get reminders")
    assert (await slack.command("UEMP2", "resume"))["text"] == "Reminders are back on."
    async with sessions() as session:
        member = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        assert (member.opted_out, member.paused_until) == (False, None)


async def test_not_for_me_is_recorded_once_and_shows_in_stats(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    _, message = await _queue(slack, sessions, article)
    for _ in range(3):
        sent = await slack.click("UEMP2", "not_for_me", "1", message_ts=message["ts"])
        reply = (await slack.responses(sent.url_id))[0]
        assert reply["text"].startswith("Noted: this one is not for you.")
    async with sessions() as session:
        assert await _count(sessions, Dismissal) == 1
        dismissal = (await session.scalars(select(Dismissal))).one()
        assert dismissal.post_id == 1
    stats = await slack.command("UADMIN", "stats 1")
    assert "Not for me: 1" in stats["text"]


async def test_me_and_stats_count_shares_clicks_points_and_rank(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    await _queue(slack, sessions, article)
    # Bob shares on both networks and his link brings two human clicks; Carla shares on X.
    opens = [("UEMP2", "open_share_linkedin", "1:linkedin"), ("UEMP2", "open_share_x", "1:x")]
    opens.append(("UEMP3", "open_share_x", "1:x"))
    for user, action, value in opens:
        await slack.responses((await slack.click(user, action, value, ephemeral=True)).url_id)
    answer = (await slack.responses((await slack.click("UEMP2", "share_x", "1")).url_id))[0]
    link = parse_qs(urlsplit(answer["blocks"][1]["elements"][0]["url"]).query)["url"][0]
    for address in ("203.0.113.1", "203.0.113.2"):
        headers = {"User-Agent": "Mozilla/5.0 Firefox/140.0", "X-Forwarded-For": address}
        assert (await slack.client.get(urlsplit(link).path, headers=headers)).status_code == 302

    bob = await slack.command("UEMP2", "me")
    assert "This week: 2 · All time: 2 · Clicks your links brought: 2" in bob["text"]
    assert "Points: 8" in bob["text"]  # 3 + 3 for two intent shares, 2 for two clicks
    assert "Rank: 1 of 2 participants" in bob["text"]
    carla = await slack.command("UEMP3", "me")
    assert "Points: 3" in carla["text"]
    assert "Rank: 2 of 2" in carla["text"]
    newcomer = await slack.command("UEMP1", "me")
    assert "Partagez une publication pour apparaître" in newcomer["text"]

    stats = await slack.command("UADMIN", "stats")
    assert "Stats for the last 30 days" in stats["text"]
    assert "Shares: 3 (LinkedIn 1, X 2) · Clicks: 2" in stats["text"]
    assert "<@UEMP2> (2), <@UEMP3> (1)" in stats["text"]
    assert "There is no post #9" in (await slack.command("UADMIN", "stats 9"))["text"]
    assert (await slack.command("UEMP2", "stats"))["text"].startswith("Only Relais admins")


async def test_command_captions_are_unescaped_into_plain_text(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    caption = "R&amp;D &lt;3 with <@UEMP2|bob>, see <https://example.com/x|the docs>"
    text = f"queue {article}/r {caption} <#C0NEWS|news>"
    reply = await slack.command("UADMIN", text)
    assert reply["text"] == "Post #1 is being published in <#C0NEWS>. I'll tell you if a channel refuses it."
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
    assert post.captions == ["R&D <3 with @bob, see https://example.com/x"]


@pytest.mark.parametrize(
    "value", ["abc:x", "", "1" * 30, "-1:x", "1.0:x", " 1:x", "01x", "1e0:x", "\uff11:x", "\u0661:x"]
)
async def test_forged_button_values_change_nothing(
    slack: SlackDriver, sessions: Sessions, article: str, value: str
) -> None:
    # Post #1 exists, so a value misread as 1 would record a share or a dismissal.
    await _queue(slack, sessions, article)
    for action in ("open_share_x", "share_x", "not_for_me"):
        sent = await slack.click("UEMP2", action, value)
        assert sent.status == 200
    await slack.settle()
    assert await _count(sessions, Share) == 0
    assert await _count(sessions, Dismissal) == 0


async def test_modal_submission_acks_in_time_when_slack_is_slow(
    slack: SlackDriver, article: str, sessions: Sessions, clock: FrozenClock
) -> None:
    await slack.command("UADMIN", "help")  # Ada's profile is cached
    clock.advance(timedelta(minutes=30))  # … and now stale
    slack.fake.delay("users.info", 4)
    values: dict[str, dict[str, Any]] = {
        "url": {"type": "url_text_input", "value": f"{article}/slow"},
        "networks": {"type": "checkboxes", "selected_options": [{"value": "x"}]},
        "channels": {"type": "multi_conversations_select", "selected_conversations": ["C0NEWS"]},
    }
    started = asyncio.get_running_loop().time()
    response = await slack.submit("UADMIN", "queue_modal", values)
    elapsed = asyncio.get_running_loop().time() - started
    assert response.status_code == 200
    assert response.text == ""
    assert elapsed < 3.0  # Slack's limit; a correctness bound, not a speed target

    async def queued() -> bool:
        return await _count(sessions, Post) == 1

    await eventually(queued)


async def test_a_bad_link_is_explained_in_french_too(slack: SlackDriver, sessions: Sessions) -> None:
    await slack.command("UADMIN", "lang fr")
    reply = await slack.command("UADMIN", "queue ftp://example.com/file <#C0NEWS|news>")
    assert reply["text"] == (
        "Ce n'est pas un lien que je peux partager (seuls les liens http:// et https:// sont acceptés). "
        "Utilisez une adresse `https://…` complète."
    )
    assert await _count(sessions, Post) == 0


async def test_a_post_cancelled_by_another_process_takes_no_new_share_or_not_for_me(
    slack: SlackDriver, article: str, sessions: Sessions, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process keeps a post's state in memory for a moment (`hotpath.POST_TTL_SECONDS`, made wide here
    so the test does not depend on the machine's speed); a post cancelled meanwhile by another process (an
    admin on another web process; the clock expiring it) must still take no share and no Not for me."""
    monkeypatch.setattr(hotpath, "POST_TTL_SECONDS", 60.0)
    _, message = await _queue(slack, sessions, article)
    before = await slack.click(
        "UEMP3", "open_share_linkedin", "1:linkedin", ephemeral=True
    )  # caches the post
    assert (await slack.responses(before.url_id))[0]["text"].startswith("Thanks!")
    async with sessions() as session:  # another process cancels it
        workspace_id = (await session.scalars(select(Post.workspace_id))).one()
        await post_service.cancel_post(
            session, workspace_id=workspace_id, post_id=1, now=clock.now(), lang="en"
        )
        await session.commit()

    opened = await slack.click("UEMP2", "open_share_linkedin", "1:linkedin", ephemeral=True)
    assert (await slack.responses(opened.url_id))[0]["text"] == "This post is no longer available."
    again = await slack.click("UEMP1", "open_share_x", "1:x", ephemeral=True)  # a first contact
    assert (await slack.responses(again.url_id))[0]["text"] == "Cette publication n'est plus disponible."
    dismissed = await slack.click("UEMP2", "not_for_me", "1", message_ts=message["ts"])
    assert (await slack.responses(dismissed.url_id))[0]["text"] == "This post is no longer available."
    assert await _count(sessions, Share) == 1  # only Carla's, from before the cancel
    assert await _count(sessions, Dismissal) == 0
