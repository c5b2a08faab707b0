"""The proof of the seam: the whole product driven through the core by a third platform, text only, that
imports no chat SDK (`tests/platform_text/adapter.py`). Each test asserts what the people see (the
neutral messages, as plain text and button ids) and what the database holds.

The week: Wednesday 25 November 2026, 10:00 in Paris (`START`); the leaderboard on Friday at 16:00 (the
workspace's time, UTC); the nudges on Tuesday 1 December at 10:00 in Paris. Boss is an admin
(RELAIS_ADMINS), Anne speaks French, Dave connects LinkedIn, Quinn does nothing.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select

from bot.flows.queue import QueueForm
from bot.web import TASKS_KEY
from models import (
    Click,
    Dismissal,
    Member,
    OutboxMessage,
    OutboxState,
    Post,
    PostState,
    Share,
    ShareStatus,
    SocialAccount,
    SocialAccountStatus,
    Suggestion,
    SuggestionState,
    TrackedLink,
    Workspace,
)
from scheduler import jobs
from tests.bot.flows.conftest import START
from tests.fakes.notifier import Shown
from tests.platform_text.adapter import NAME, context, signed_in_as
from tests.platform_text.conftest import PUBLIC, World

REPO = Path(__file__).resolve().parents[2]
BOARD_TIME = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # Friday 16:00, the workspace's time (UTC)
NUDGE_TIME = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Paris
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"  # a person, not a robot


async def rows(world: World, model: Any) -> list[Any]:
    async with world.sessions() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def count(world: World, model: Any) -> int:
    async with world.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def member(world: World, user: str) -> Member:
    async with world.sessions() as session:
        return (await session.scalars(select(Member).where(Member.external_id == user))).one()


def said(shown: Shown | None) -> str:
    assert shown is not None, "the person was shown nothing"
    return shown.text


async def publish(world: World, caption: str = "Come and see") -> Shown:
    """Boss queues the article into #news now; the post card the channel got."""
    await world.chat.type("UBOSS", f"queue {world.article} {caption} #news")
    cards = world.platform.recorder.to("CNEWS")
    assert [card.kind for card in cards] == ["post"]
    return cards[0]


async def browse(world: World, url: str, cookie: str | None = None) -> httpx.Response:
    """A Relais page (PUBLIC_URL/…) opened in the member's browser, i.e. in the running web app."""
    assert url.startswith(PUBLIC), url
    parts = urlsplit(url)
    headers = {"User-Agent": BROWSER, **({"Cookie": cookie} if cookie else {})}
    return await world.browser.get(
        f"{parts.path}?{parts.query}" if parts.query else parts.path, headers=headers
    )


async def sign_in(world: World, user: str) -> str:
    """`user`'s browser signs in to Relais (the real routes; the text platform vouches for them): the
    session cookie it then sends."""
    to_platform = await browse(world, PUBLIC + "/login?next=%2Fme")
    assert to_platform.status_code == 302, to_platform.text
    state = to_platform.headers["Set-Cookie"].split(";", 1)[0]
    back = await browse(world, to_platform.headers["Location"], signed_in_as(user))
    landed = await browse(world, back.headers["Location"], state)
    assert landed.status_code == 303, landed.text
    [session] = [
        value for value in landed.headers.get_list("Set-Cookie") if value.startswith("relais_session=")
    ]
    return session.split(";", 1)[0]


async def connect_linkedin(world: World, user: str) -> Shown:
    """`connect linkedin`, then the browser, signed in to Relais: Relais's start page, LinkedIn's consent,
    Relais's callback (the real routes); returns what the member was told in the chat once connected."""
    link = await world.chat.type(user, "connect linkedin")
    assert link is not None
    session = await sign_in(world, user)
    start = await browse(world, str(link.button("connect_open").url), session)
    assert start.status_code == 302, start.text
    cookie = start.headers["Set-Cookie"].split(";", 1)[0]
    async with httpx.AsyncClient() as browser:  # LinkedIn consents at once and sends the browser back
        consent = await browser.get(start.headers["Location"])
    assert consent.status_code == 302
    page = await browse(world, consent.headers["Location"], f"{cookie}; {session}")
    assert page.status_code == 200, page.text
    assert "Your LinkedIn account is connected to Relais" in page.text
    await asyncio.gather(*world.app[TASKS_KEY])  # the callback sends the confirmation through the platform
    [confirmation] = [sent for sent in world.platform.recorder.to(user) if sent.kind == "social_connected"]
    return confirmation


# ---------------------------------------------------------------------------------------------------


def test_the_text_platform_runs_without_any_chat_sdk() -> None:
    """The adapter, its tests' world and the web app serving it load no chat platform's code, neither
    Slack's nor Teams' (a fresh interpreter: this test process has their tests loaded too)."""
    program = """
import sys
from bot.config import Settings
from bot.web import create_app
import tests.platform_text.test_whole_product
from tests.platform_text.adapter import TextPlatform
create_app(Settings(_env_file=None, database_url="sqlite:///:memory:"), adapters=[TextPlatform()])
chat = ("slack_sdk", "slack_bolt", "handlers.slack", "microsoft_agents", "handlers.teams")
print(sorted(m for m in sys.modules if m.startswith(chat)))
"""
    found = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == "[]", found.stderr


async def test_an_admin_queues_by_typing_and_a_member_is_refused(world: World) -> None:
    refused = await world.chat.type("UANNE", f"queue {world.article} #news")
    assert (
        said(refused) == "Seuls les admins Relais peuvent utiliser `queue`. Demandez à un admin de l'espace."
    )
    assert await count(world, Post) == 0

    queued = await world.chat.type("UBOSS", f"queue {world.article} Come and see #news")
    assert said(queued).startswith("Post #1 is being published in #CNEWS.")
    [post] = await rows(world, Post)
    assert (post.url, post.title, post.captions, post.channels) == (
        world.article,
        "Acme opens in Lyon",
        ["Come and see"],
        ["CNEWS"],
    )
    assert post.state is PostState.PUBLISHED
    [workspace] = await rows(world, Workspace)
    assert (workspace.platform, workspace.external_id) == (NAME, "ACME")


async def test_the_publish_job_pushes_a_due_post_to_its_channel_with_its_share_buttons(world: World) -> None:
    await world.chat.type("UBOSS", "channel #news")
    later = await world.chat.type("UBOSS", f"queue {world.article} Come and see at tomorrow 9:00")
    assert said(later).startswith("Post #1 will be published in #CNEWS on 2026-11-26 09:00")  # Paris time
    ctx = context(world.chat.core, world.platform.recorder)
    await jobs.run_job(ctx, "publish")
    assert world.platform.recorder.sent == []  # not yet

    world.clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    await jobs.run_job(ctx, "publish")
    [card] = world.platform.recorder.sent
    assert (card.kind, card.destination) == ("post", "CNEWS")
    assert card.text == f"Share this: Acme opens in Lyon {world.article}"
    assert card.body.splitlines() == [
        "Acme opens in Lyon",
        "Our new office, and the people in it.",
        "Suggested caption: Come and see",
        "Share on LinkedIn · Share on X · Edit & share · Not for me",
    ]
    assert card.actions == ["share_linkedin", "share_x", "edit_share", "not_for_me"]
    assert {button.value for button in card.buttons} == {"1"}
    [post] = await rows(world, Post)
    assert post.state is PostState.PUBLISHED
    assert post.published_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    [row] = await rows(world, OutboxMessage)
    assert (row.kind, row.destination, row.state) == ("post", "CNEWS", OutboxState.SENT)
    await jobs.run_job(ctx, "publish")  # a second pass sends nothing twice
    assert len(world.platform.recorder.sent) == 1


async def test_the_personal_link_counts_one_share_however_often_it_is_opened(world: World) -> None:
    card = await publish(world)
    link = await world.chat.click("UANNE", card.button("share_linkedin"))
    assert link is not None
    [code] = [row.code for row in await rows(world, TrackedLink)]
    assert link.text == f"Partager sur LinkedIn : {PUBLIC}/r/{code}"
    assert link.body.splitlines()[:2] == [
        "Voici votre lien personnel pour partager sur LinkedIn. Votre légende :",
        "Come and see",
    ]
    opening = link.button("open_share_linkedin")
    assert (
        opening.url
        == f"https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Frelais.example.test%2Fr%2F{code}"
    )
    assert link.button("connect_linkedin").value == "linkedin"  # this Relais can post for her: a hint
    assert await count(world, Share) == 0  # asking for the link is not sharing

    first = await world.chat.click("UANNE", opening)
    again = await world.chat.click("UANNE", opening)
    assert said(first) == "Merci ! Votre partage sur LinkedIn est compté."
    assert again is None  # counted before: nothing more to say
    [share] = await rows(world, Share)
    anne = await member(world, "UANNE")
    assert (share.member_id, share.network, share.status) == (anne.id, "linkedin", ShareStatus.INTENT)
    assert share.intent_at == START


async def test_a_connected_member_shares_through_the_api_once(world: World) -> None:
    card = await publish(world)
    confirmation = await connect_linkedin(world, "UDAVE")
    assert confirmation.text == (
        "Your LinkedIn account is connected. The share buttons now post for you in one click, "
        "and you can undo."
    )
    [account] = await rows(world, SocialAccount)
    dave = await member(world, "UDAVE")
    assert (account.member_id, account.network, account.status) == (
        dave.id,
        "linkedin",
        SocialAccountStatus.CONNECTED,
    )
    assert account.external_person_id == "782bbtaQ"
    assert "AQV" not in account.access_token_encrypted  # the token is kept encrypted

    posted = await world.chat.click("UDAVE", card.button("share_linkedin"))
    again = await world.chat.click("UDAVE", card.button("share_linkedin"))
    assert said(posted) == "Posted on LinkedIn. Thank you!"
    assert said(again) == "You already shared this on LinkedIn."
    assert posted is not None
    assert posted.actions == ["view_post", "share_undo"]
    [urn] = world.linkedin.posts
    assert world.linkedin.posts[urn]["author"] == "urn:li:person:782bbtaQ"
    assert world.linkedin.posts[urn]["commentary"] == "Come and see"
    assert world.linkedin.posts[urn]["body"]["content"]["article"]["title"] == "Acme opens in Lyon"
    [share] = await rows(world, Share)
    assert (share.member_id, share.status, share.external_id) == (dave.id, ShareStatus.POSTED, urn)
    assert world.chat.said_early == []  # answered in time: nothing said before the answer


async def test_not_for_me_is_noted_and_keeps_the_post_out_of_the_members_reminders(world: World) -> None:
    card = await publish(world)
    noted = await world.chat.click("UQUINN", card.button("not_for_me"))
    assert said(noted) == "Noted: this one is not for you. It won't come back in your reminders."
    [dismissal] = await rows(world, Dismissal)
    quinn = await member(world, "UQUINN")
    assert (dismissal.member_id, dismissal.post_id) == (quinn.id, 1)

    world.clock.set(NUDGE_TIME)
    await jobs.run_job(context(world.chat.core, world.platform.recorder), "nudges")
    assert world.platform.recorder.to("UQUINN") == []  # nothing left to suggest to Quinn


async def test_a_suggestion_reaches_the_admins_and_approving_it_queues_the_post(world: World) -> None:
    await world.chat.type("UBOSS", "channel #news")
    sent = await world.chat.type("UANNE", f"suggest {world.article} Nos collègues de Lyon")
    assert said(sent) == "Merci ! Votre suggestion est envoyée aux admins ; je vous dirai ce qu'ils décident."
    [review] = world.platform.recorder.to("UBOSS")
    assert review.kind == "suggestion_review"
    assert review.text == f"@UANNE suggests sharing {world.article}"  # a mention: the platform names her
    assert review.actions == ["suggestion_approve", "suggestion_reject"]
    [suggestion] = await rows(world, Suggestion)
    assert suggestion.state is SuggestionState.PENDING

    refused = await world.chat.click("UANNE", review.button("suggestion_approve"))
    assert (
        said(refused) == "Seuls les admins Relais peuvent utiliser `queue`. Demandez à un admin de l'espace."
    )
    assert await world.chat.click("UBOSS", review.button("suggestion_approve")) is None  # a form instead
    assert world.chat.surface.forms == [(("CNEWS",), "en")]
    assert world.chat.surface.prefilled == [(world.article, suggestion.id)]
    form = QueueForm(
        url=world.article,
        captions=("Lyon!",),
        networks=("linkedin", "x"),
        channels=("CNEWS",),
        suggestion_id=suggestion.id,  # carried back by the form, as the surface was given it
    )
    approved = await world.chat.submit("UBOSS", form)
    assert isinstance(approved, Shown)
    assert said(approved).startswith("Post #1 is being published in #CNEWS.")

    [post] = await rows(world, Post)
    [suggestion] = await rows(world, Suggestion)
    assert (suggestion.state, suggestion.post_id) == (SuggestionState.APPROVED, post.id)
    assert [sent.kind for sent in world.platform.recorder.to("UANNE")] == ["suggestion_outcome"]
    assert world.platform.recorder.to("UANNE")[0].text == (
        f"Bonne nouvelle : votre suggestion {world.article} est approuvée, c'est la publication n°1."
    )
    closed = world.platform.recorder.of_kind("suggestion_review_update")
    assert [(update.destination, update.actions) for update in closed] == [("D-UBOSS", [])]
    assert [sent.kind for sent in world.platform.recorder.to("CNEWS")] == ["post"]


async def test_a_nudge_round_reminds_the_quiet_members_with_posts_to_share(world: World) -> None:
    card = await publish(world)
    link = await world.chat.click("UANNE", card.button("share_linkedin"))
    assert link is not None
    await world.chat.click("UANNE", link.button("open_share_linkedin"))
    await world.chat.type("UQUINN", "help")  # Quinn is known, and does nothing else
    world.platform.recorder.sent.clear()

    world.clock.set(NUDGE_TIME)
    summary = await jobs.run_job(context(world.chat.core, world.platform.recorder), "nudges")
    assert summary == "2 reminders"
    nudged = {sent.destination: sent for sent in world.platform.recorder.of_kind("nudge")}
    assert sorted(nudged) == ["UBOSS", "UQUINN"]  # Anne shared this week
    quinn = nudged["UQUINN"]
    assert quinn.text == "Hi! 1 recent post(s) you might like to share. One click is enough:"
    assert quinn.body.splitlines()[1] == "Acme opens in Lyon"
    assert quinn.actions == ["share_linkedin", "share_x", "edit_share", "not_for_me"]
    link = await world.chat.click("UQUINN", quinn.button("share_linkedin"))  # the nudge's buttons work
    assert said(link).startswith("Share on LinkedIn: https://relais.example.test/r/")
    assert (await member(world, "UQUINN")).last_nudged_at == NUDGE_TIME
    assert (await member(world, "UANNE")).last_nudged_at is None


async def test_the_leaderboard_names_the_sharers_and_tells_each_their_rank_privately(world: World) -> None:
    await world.chat.type("UBOSS", "channel #news")
    card = await publish(world)
    await connect_linkedin(world, "UDAVE")
    await world.chat.click("UDAVE", card.button("share_linkedin"))  # posted: 10 points
    link = await world.chat.click("UANNE", card.button("share_linkedin"))
    assert link is not None
    await world.chat.click("UANNE", link.button("open_share_linkedin"))  # her link opened: 3 points
    world.clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    read = await browse(world, link.text.rsplit(" ", 1)[1])  # a reader follows her link: 1 point more
    assert read.status_code == 302
    assert read.headers["Location"].startswith(f"{world.article}?utm_source=linkedin&")
    assert await count(world, Click) == 1
    await world.chat.type("UQUINN", "help")  # Quinn is known, and does nothing else
    world.platform.recorder.sent.clear()

    world.clock.set(BOARD_TIME)
    summary = await jobs.run_job(context(world.chat.core, world.platform.recorder), "leaderboard")
    assert summary == "3 leaderboard messages"
    [board] = world.platform.recorder.to("CNEWS")
    assert board.kind == "leaderboard"
    assert board.text == "🏆 Sharing leaderboard — week 2026-W48"
    assert "🥇 Dave" in board.body
    assert "🥈 Anne" in board.body
    assert "This week: 2 shares, 1 clicks, 2 people took part." in board.body
    assert "Quinn" not in board.body
    assert "Boss" not in board.body
    ranks = {sent.destination: sent.text for sent in world.platform.recorder.of_kind("rank")}
    assert sorted(ranks) == ["UANNE", "UDAVE"]
    assert ranks["UDAVE"].startswith("This week you are #1 of 2 with 10 points (1 shares, 0 clicks)")
    assert ranks["UANNE"].startswith("Cette semaine vous êtes n° 2 sur 2 avec 4 points (1 partages, 1 clics)")
    assert world.platform.recorder.to("UQUINN") == []
    sent_rows = [row for row in await rows(world, OutboxMessage) if row.kind in ("leaderboard", "rank")]
    assert sorted(row.destination for row in sent_rows) == ["CNEWS", "UANNE", "UDAVE"]
    assert {row.state for row in sent_rows} == {OutboxState.SENT}
