"""Teams delivers an activity again when it got no answer in time, to whichever web process its load
balancer picks: two apps on one database here, as two `relais serve` would be (`a` installed the team,
`b` is the other process, each with its own engine and core). A redelivery has no second effect in
either: one post, one share, one reply, the same answer; a first run that failed runs again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from ipaddress import ip_network
from typing import Any

import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.demo.fake_teams import REPLY, SEND
from bot.services import inbound
from models import InboundDelivery, Share, ShareStatus, TrackedLink
from scheduler import jobs
from tests.conftest import web_pages
from tests.fakes.bot_framework import FakeBotFramework
from tests.fakes.social import FakeLinkedIn
from tests.handlers.teams.driver import START, SettingsFactory, teams_app
from tests.handlers.teams.team import (
    ANN,
    ANN_CHAT,
    ARTICLE,
    BOB,
    BOB_CHAT,
    CHANNEL,
    Team,
    button,
    card_text,
    filled,
    installed_team,
)
from tests.handlers.teams.test_cards import connect_linkedin

Sessions = async_sessionmaker[AsyncSession]
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"


@pytest.fixture
async def two(
    teams_settings: SettingsFactory,
    database_url: str,
    engine: AsyncEngine,
    sessions: Sessions,
    bot_framework: FakeBotFramework,
    linkedin: FakeLinkedIn,
) -> AsyncIterator[tuple[Team, Team]]:
    """The team installed through app `a`, and app `b` serving the same database and Bot Connector."""
    settings = teams_settings(
        encryption_key=Fernet.generate_key().decode(),
        linkedin_client_id=linkedin.client_id,
        linkedin_client_secret=linkedin.client_secret,
        linkedin_auth_url=linkedin.auth_url,
        linkedin_api_url=linkedin.api_url,
    )
    async with installed_team(settings, engine, sessions, bot_framework) as a:
        other = db.create_engine(database_url)
        try:
            async with teams_app(
                settings,
                other,
                bot_framework,
                a.connector,
                fetch_allowed_networks=(ip_network("127.0.0.2/32"),),
            ) as teams:
                yield a, Team(teams, a.connector, sessions)
        finally:
            await other.dispose()


async def count(team: Team, model: Any) -> int:
    async with team.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def claims(team: Team) -> list[InboundDelivery]:
    async with team.sessions() as session:
        return list((await session.scalars(select(InboundDelivery))).all())


def stored_key(body: dict[str, Any]) -> str:
    return inbound.delivery_key("msteams", body["conversation"]["id"], body["id"])


async def queue_form_submission(a: Team, url: str = ARTICLE, **fields: Any) -> dict[str, Any]:
    """Ann asks for the queue form in her chat (through `a`); her submission of it (an invoke)."""
    await a.say(a.personal(ANN, "queue"))
    form = a.connector.activities(ANN_CHAT)[-1]
    submit = filled(form["attachments"][0]["content"], "queue_submit", url=url)
    invoke = a.invoke_in_chat(ANN, submit, card_id=form["id"])
    invoke.update(fields)
    return invoke


def sent_to(team: Team, chat: str, since: int) -> list[dict[str, Any]]:
    return [
        call.body
        for call in team.connector.calls[since:]
        if call.operation in (SEND, REPLY) and call.conversation_id == chat
    ]


async def test_a_queue_form_submission_delivered_again_to_another_process_queues_one_post(
    two: tuple[Team, Team],
) -> None:
    a, b = two
    invoke = await queue_form_submission(a)
    before = len(a.connector.calls)
    first = await a.click(invoke)
    again = await b.click(invoke)  # Teams sent it again, and its load balancer chose b
    assert "is being published in" in first["value"]
    assert again == first
    assert await a.posts() == 1
    assert sent_to(a, ANN_CHAT, before) == []  # the answer is the invoke's: shown to Ann alone
    (post,) = sent_to(a, CHANNEL, before)  # the post, once
    assert "replyToId" not in post
    (claim,) = [row for row in await claims(a) if row.key == stored_key(invoke)]
    assert (claim.platform, claim.answer, claim.claimed_at) == ("teams", first, START)


async def test_the_submit_fallback_delivered_again_to_another_process_queues_one_post(
    two: tuple[Team, Team],
) -> None:
    a, b = two
    await a.say(a.personal(ANN, "queue"))
    form = a.connector.activities(ANN_CHAT)[-1]
    submit = filled(form["attachments"][0]["content"], "queue_submit", url=ARTICLE)
    # A client without Universal Actions: the button's Action.Submit, its data with the form's inputs.
    message = a.personal(ANN, "", value=submit["data"], replyToId=form["id"])
    (told,) = await a.say(message)
    assert "is being published in" in card_text(told)
    assert await b.say(message) == []  # b runs nothing, and tells nothing
    assert await a.posts() == 1
    (claim,) = [row for row in await claims(a) if row.key == stored_key(message)]
    assert claim.answer is None  # a message is answered in its own reply, not in the response


async def test_a_queue_command_delivered_again_to_another_process_queues_one_post(
    two: tuple[Team, Team],
) -> None:
    a, b = two
    command = a.in_channel(ANN, f"queue {ARTICLE}")
    (told,) = await a.say(command)
    assert "is being published in" in card_text(told)
    assert await b.say(command) == []
    assert await a.say(command) == []  # and again to a
    assert await a.posts() == 1
    assert [call.conversation_id for call in a.connector.calls_to(SEND)] == [ANN_CHAT, CHANNEL]
    assert stored_key(command) in [row.key for row in await claims(a)]


async def test_a_share_delivered_again_to_another_process_is_posted_once_with_the_same_answer(
    two: tuple[Team, Team], linkedin: FakeLinkedIn
) -> None:
    a, b = two
    card_id, card = await a.published()
    await connect_linkedin(a)
    click = a.invoke(BOB, button(card, "share_linkedin"), card_id=card_id)
    posted = await a.click(click)
    again = await b.click(click)
    assert "Posted on LinkedIn. Thank you!" in str(posted["value"])
    assert again == posted  # not b's own "you already shared this"
    assert len(linkedin.posts) == 1
    async with a.sessions() as session:
        (share,) = (await session.scalars(select(Share))).all()
    assert share.status is ShareStatus.POSTED
    (claim,) = [row for row in await claims(a) if row.key == stored_key(click)]
    assert claim.answer == posted


async def test_a_first_run_that_failed_runs_again_when_delivered_again(two: tuple[Team, Team]) -> None:
    """Bob clicks Share on a card in his own chat: his link comes as a message there. Teams refuses that
    message (502, and again when tried again): the turn fails, Bob is told something went wrong (the
    invoke's documented error type, never an HTTP 5xx), and Teams sends the click again, to b, which runs
    it."""
    a, b = two
    _, card = await a.published()  # as if a reminder in Bob's chat showed it
    click = a.invoke_in_chat(BOB, button(card, "share_linkedin"), card_id="1764200000123")
    a.connector.fail_next(REPLY, status=502, times=3)
    failed = await a.teams.post(click)
    assert failed.status_code == 200
    assert failed.json() == {
        "statusCode": 500,
        "type": "application/vnd.microsoft.error",
        "value": {
            "code": "InternalServerError",
            "message": "Something went wrong on my side; nothing was changed. Please try again.",
        },
    }
    assert len(a.connector.calls_to(REPLY)) == 3  # tried twice more, then given up
    assert stored_key(click) not in [row.key for row in await claims(a)]  # forgotten
    before = len(a.connector.calls)
    answer = await b.click(click)
    assert answer["type"] == MESSAGE
    assert answer["value"].startswith("Share on LinkedIn: https://relais.example.test/r/")
    (sent,) = sent_to(a, BOB_CHAT, before)
    assert "Here is your personal link to share on LinkedIn" in card_text(sent)
    assert len(a.connector.activities(BOB_CHAT)) == 1  # what Bob's chat shows: his link, once
    assert await count(a, TrackedLink) == 1
    (claim,) = [row for row in await claims(a) if row.key == stored_key(click)]
    assert claim.answer == answer
    assert await a.click(click) == answer  # and a, which failed it, now gives the same answer


@asynccontextmanager
async def slow_article() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """An article whose page answers only once the event is set: a queue submission's run (which reads
    the page for its preview) goes on until then."""
    served = asyncio.Event()

    async def page(request: web.Request) -> web.Response:
        await served.wait()
        return web.Response(
            text="<html><head><title>Slow news</title></head></html>", content_type="text/html"
        )

    async with web_pages(page) as base:
        yield f"{base}/article", served


async def test_a_delivery_whose_first_run_goes_on_elsewhere_waits_for_its_answer(
    two: tuple[Team, Team],
) -> None:
    a, b = two
    async with slow_article() as (url, served):
        invoke = await queue_form_submission(a, url)
        first = asyncio.create_task(a.click(invoke))
        await until_claimed(a, invoke)
        again = asyncio.create_task(b.click(invoke))  # b waits for a's answer rather than run it
        await asyncio.sleep(0.5)
        assert not again.done()
        served.set()
        assert await again == await first
    assert "is being published in" in (await first)["value"]
    assert await a.posts() == 1


async def test_a_delivery_whose_first_run_takes_too_long_is_told_it_is_being_handled(
    two: tuple[Team, Team],
) -> None:
    a, b = two
    async with slow_article() as (url, served):
        invoke = await queue_form_submission(a, url, locale="fr-FR")
        first = asyncio.create_task(a.click(invoke))
        await until_claimed(a, invoke)
        told = await b.click(invoke)  # a's run goes on longer than b waits (3 s)
        served.set()
        answer = await first
    assert told == {
        "statusCode": 200,
        "type": MESSAGE,
        "value": "Je m'en occupe déjà ; inutile de recommencer.",
    }
    assert "est en cours de publication" in answer["value"]
    assert await b.click(invoke) == answer  # once a's run ended, b gives its answer
    assert await a.posts() == 1


async def until_claimed(team: Team, body: dict[str, Any]) -> None:
    for _ in range(200):
        if stored_key(body) in [row.key for row in await claims(team)]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never claimed")


async def test_the_hourly_housekeeping_forgets_deliveries_older_than_a_day(sessions: Sessions) -> None:
    for key, at in (("old", START), ("recent", START + timedelta(hours=2))):
        assert await inbound.claim(sessions, platform="teams", key=key, now=at)
    assert not await inbound.claim(sessions, platform="teams", key="old", now=START)
    later = START + inbound.RETENTION + timedelta(hours=1)
    await jobs.run_job(jobs.Context(sessions, {}, lambda: later), "connection-warnings")
    async with sessions() as session:
        kept = (await session.scalars(select(InboundDelivery.key))).all()
    assert kept == ["recent"]
    assert await inbound.claim(sessions, platform="teams", key="old", now=later)  # a new delivery now
