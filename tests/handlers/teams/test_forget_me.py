"""`/relais forget-me` on Teams, through `/api/messages`: the command in Bob's 1:1 chat answers with a card
whose "Erase my data" is an `Action.Execute`; its invoke erases Bob (whoever the activity says clicked),
leaving his share as an anonymous count and nothing that names him in any table; a second click, and
Cancel, change nothing; Bob writing again is a new member."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.services import scores
from bot.signin_pages import CORE_KEY
from models import ConversationRef, InboundDelivery, Member, Share, TrackedLink
from tests.erasure_scan import leftovers, rows_in_every_table
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import SettingsFactory
from tests.handlers.teams.team import ANN, ARTICLE, BOB, Team, _texts, button, card_text, installed_team
from tests.handlers.teams.test_cards import browse, urls

Sessions = async_sessionmaker[AsyncSession]
CARD = "application/vnd.microsoft.card.adaptive"


def _answered(body: dict[str, Any]) -> str:
    """The text of the card an erasure click answers with (it replaces the question's card in place)."""
    assert (body["statusCode"], body["type"]) == (200, CARD)
    return "\n".join(_texts(body["value"]))


@pytest.fixture
async def team(
    teams_settings: SettingsFactory, engine: AsyncEngine, sessions: Sessions, bot_framework: FakeBotFramework
) -> AsyncIterator[Team]:
    async with installed_team(teams_settings(), engine, sessions, bot_framework) as installed:
        yield installed


async def _shares_by_network(team: Team) -> dict[str, int]:
    async with team.sessions() as session:
        workspace_id = (await session.scalars(select(Member.workspace_id).limit(1))).one()
        return (await scores.stats(session, workspace_id=workspace_id)).by_network


async def _share_from_the_channel(
    team: Team, person: dict[str, str], card_id: str, card: dict[str, Any]
) -> str:
    """The person's share link (`/s/<code>`), opened once: the share is counted."""
    answer = await team.click(team.invoke(person, button(card, "share_linkedin"), card_id=card_id))
    (link,) = urls(answer["value"])
    assert (await browse(team, link)).status_code == 303  # the share is counted
    return link


async def test_forget_me_erases_bob_from_every_table_and_keeps_his_share_counted(team: Team) -> None:
    card_id, card = await team.published()
    # Ann, then Bob: the channel's conversation reference names Bob, its last speaker.
    await _share_from_the_channel(team, ANN, card_id, card)
    bobs_link = await _share_from_the_channel(team, BOB, card_id, card)
    before = await _shares_by_network(team)
    assert before == {"linkedin": 2}
    bob = await team.member("aad-bob")

    (asked,) = await team.say(team.personal(BOB, "forget-me"))
    shown = card_text(asked)
    assert "Erase your data from Relais?" in shown
    assert "Kept, without your name" in shown
    question = asked["attachments"][0]["content"]
    confirm = button(question, "forget_me_confirm")
    assert confirm["style"] == "destructive"
    assert button(question, "forget_me_cancel")

    cancelled = await team.click(team.invoke_in_chat(BOB, button(question, "forget_me_cancel"), card_id="q1"))
    assert _answered(cancelled) == "Nothing was erased."
    assert (await team.member("aad-bob")).id == bob.id

    done = await team.click(team.invoke_in_chat(BOB, confirm, card_id="q1"))
    assert _answered(done).startswith("Your data is erased.")
    assert "forget_me_confirm" not in str(done["value"])  # the buttons are gone from the card
    # Nothing names Bob: his Entra object id, his name, his Teams account id.
    assert await leftovers(team.sessions, ["aad-bob", "Bob Stone", "29:bob"]) == []
    assert await _shares_by_network(team) == before
    async with team.sessions() as session:
        placeholder = await session.get_one(Member, bob.id)
        assert placeholder.erased_at is not None
        # His share counts for nobody: not for the placeholder either (`leftovers` checks every table).
        assert [s.member_id for s in (await session.scalars(select(Share).order_by(Share.id))).all()] == [
            (await team.member("aad-ann")).id,
            None,
        ]
        assert (await session.scalars(select(TrackedLink.member_id).order_by(TrackedLink.id))).all() == [
            (await team.member("aad-ann")).id,
            None,
        ]
    assert (await team.member("aad-ann")).display_name == "Ann Lee"

    # His links still work for whoever has them, for nobody: the share link leads to LinkedIn's share page
    # and records no share, the tracked link to the article and counts no click; no row changes.
    tables = await rows_in_every_table(team.sessions)
    shared = await browse(team, bobs_link)
    assert shared.status_code == 303
    assert shared.headers["Location"].startswith("https://www.linkedin.com/")
    article = await browse(team, bobs_link.replace("/s/", "/r/"))
    assert article.status_code == 302
    assert article.headers["Location"].startswith(ARTICLE + "?utm_source=linkedin")
    assert await rows_in_every_table(team.sessions) == tables
    assert await _shares_by_network(team) == before

    # Clicking again: nothing more to erase, and nothing changed (Bob is not recorded anew by the click);
    # only the invoke's own delivery is noted, as every invoke's is (a resend gets the same answer).
    tables = await rows_in_every_table(team.sessions)
    again = await team.click(team.invoke_in_chat(BOB, confirm, card_id="q1"))
    assert _answered(again).startswith("There is nothing to erase")
    assert await rows_in_every_table(team.sessions) == {
        **tables,
        "inbound_delivery": tables["inbound_delivery"] + 1,
    }
    assert await leftovers(team.sessions, ["aad-bob", "Bob Stone", "29:bob"]) == []

    # Bob writing again is a new member.
    await team.say(team.personal(BOB, "help"))
    newcomer = await team.member("aad-bob")
    assert newcomer.id != bob.id
    # The way to write to him is stored again (this process forgot it had stored it before).
    async with team.sessions() as session:
        assert await session.scalar(select(ConversationRef.key).where(ConversationRef.key == "aad-bob"))


async def test_an_old_question_card_does_not_erase_bob_once_he_came_back_nor_after_fifteen_minutes(
    team: Team,
) -> None:
    (asked,) = await team.say(team.personal(BOB, "forget-me"))
    old_confirm = button(asked["attachments"][0]["content"], "forget_me_confirm")
    done = await team.click(team.invoke_in_chat(BOB, old_confirm, card_id="q1"))
    assert _answered(done).startswith("Your data is erased.")
    # Bob comes back: a new member. The old card's button (still in his chat) erases nothing.
    await team.say(team.personal(BOB, "help"))
    newcomer = await team.member("aad-bob")
    tables = await rows_in_every_table(team.sessions)
    stale = await team.click(team.invoke_in_chat(BOB, old_confirm, card_id="q1"))
    assert _answered(stale).startswith("This question has expired: nothing was erased.")
    assert (await team.member("aad-bob")).id == newcomer.id
    assert (await team.member("aad-bob")).erased_at is None
    assert await rows_in_every_table(team.sessions) == {
        **tables,
        "inbound_delivery": tables["inbound_delivery"] + 1,
    }
    # A fresh question, answered too late, erases nothing either; answered in time, it erases him.
    (asked,) = await team.say(team.personal(BOB, "forget-me"))
    confirm = button(asked["attachments"][0]["content"], "forget_me_confirm")
    clock = team.teams.app[CORE_KEY].clock if team.teams.app is not None else None
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(minutes=16))
    late = await team.click(team.invoke_in_chat(BOB, confirm, card_id="q2"))
    assert _answered(late).startswith("This question has expired")
    assert (await team.member("aad-bob")).erased_at is None
    (asked,) = await team.say(team.personal(BOB, "forget-me"))
    confirm = button(asked["attachments"][0]["content"], "forget_me_confirm")
    done = await team.click(team.invoke_in_chat(BOB, confirm, card_id="q3"))
    assert _answered(done).startswith("Your data is erased.")


async def test_bobs_erasure_scrubs_only_his_own_mentions_in_kept_invoke_answers(team: Team) -> None:
    """Kept invoke answers (the redelivery check) of every tenant and platform share one table: Bob's
    erasure replaces his id and name as whole words there, and drops no claim, nor touches a longer id or
    name (someone else's) or another platform's."""
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    others = {
        ("teams", "other-tenant"): {"value": "Bob Stonewall and aad-bobby shared it"},
        ("slack", "slack-delivery"): {"value": "Bob Stone shared it"},
    }
    async with team.sessions() as session:
        session.add_all(
            InboundDelivery(platform=platform, key=key, claimed_at=now, answer=answer)
            for (platform, key), answer in others.items()
        )
        session.add(
            InboundDelivery(
                platform="teams", key="bobs", claimed_at=now, answer={"value": "Thanks, Bob Stone (aad-bob)!"}
            )
        )
        await session.commit()
    (asked,) = await team.say(team.personal(BOB, "forget-me"))
    confirm = button(asked["attachments"][0]["content"], "forget_me_confirm")
    assert _answered(await team.click(team.invoke_in_chat(BOB, confirm, card_id="q1"))).startswith(
        "Your data is erased."
    )
    async with team.sessions() as session:
        kept = {
            (row.platform, row.key): row.answer
            for row in (await session.scalars(select(InboundDelivery))).all()
            if row.key in ("other-tenant", "slack-delivery", "bobs")
        }
    assert {key: kept[key] for key in others} == others
    assert "Bob Stone" not in str(kept[("teams", "bobs")])
    assert "aad-bob" not in str(kept[("teams", "bobs")])
    assert str(kept[("teams", "bobs")]).startswith("{'value': 'Thanks, erased:")
