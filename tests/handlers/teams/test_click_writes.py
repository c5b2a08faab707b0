"""What a share click in a team's channel writes before its answer, besides what it records: the sender's
member row and the conversation references (theirs, the channel's) only when the activity says something
new, in one UPDATE of the member at most (a first contact's row inserted with the profile); the
workspace, and whether the sender can be reached, found without a query once met. Counted with a
SQLAlchemy listener on the app's engine, through `/api/messages`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import conversations
from models import ConversationRef, Member
from tests.fakes.bot_framework import FakeBotFramework
from tests.handlers.teams.driver import SettingsFactory
from tests.handlers.teams.team import BOB, CHANNEL, Sessions, Team, button, installed_team

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
CAROL = {"id": "29:carol", "name": "Carol Diaz", "aadObjectId": "aad-carol"}  # not in the team's roster


@pytest.fixture
async def team(
    teams_settings: SettingsFactory, engine: AsyncEngine, sessions: Sessions, bot_framework: FakeBotFramework
) -> AsyncIterator[Team]:
    async with installed_team(teams_settings(), engine, sessions, bot_framework) as installed:
        yield installed


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` meanwhile, lower-cased with their whitespace folded and their
    placeholders written `?` (SQLite's; asyncpg writes `$1::VARCHAR`)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        text = re.sub(r"\$\d+(::[\w ]+?(?=[,) ]|$))?", "?", str(args[2]))
        seen.append(re.sub(r"\s+", " ", text).strip().lower())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def _writes(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if re.match(rf"(insert into|update|delete from) {table}\b", s)]


async def _reference(team: Team, key: str) -> dict[str, Any] | None:
    async with team.sessions() as session:
        found: dict[str, Any] | None = await session.scalar(
            select(ConversationRef.reference).where(ConversationRef.key == key)
        )
    return found


async def test_a_click_like_the_last_one_writes_no_reference_and_no_member(
    team: Team, engine: AsyncEngine
) -> None:
    card_id, card = await team.published()
    await team.click(team.invoke(BOB, button(card, "not_for_me"), card_id=card_id))
    with statements(engine) as seen:
        answer = await team.click(team.invoke(BOB, button(card, "share_x"), card_id=card_id))
    assert answer["statusCode"] == 200
    assert _writes(seen, "conversation_ref") == []
    assert _writes(seen, "member") == []
    assert not [s for s in seen if " from conversation_ref " in s]  # Bob's, known from his first click
    found_by_tenant = "from workspace where workspace.platform = ? and workspace.external_id = ?"
    assert not [s for s in seen if found_by_tenant in s]
    assert (await team.member("aad-bob")).admin_checked_at is not None


async def test_a_first_contact_writes_its_member_row_in_one_insert(team: Team, engine: AsyncEngine) -> None:
    card_id, card = await team.published()
    with statements(engine) as seen:
        answer = await team.click(team.invoke(CAROL, button(card, "not_for_me"), card_id=card_id))
    assert answer["statusCode"] == 200
    assert [s.split(" ")[0] for s in _writes(seen, "member")] == ["insert"]  # with her profile
    carol = await team.member("aad-carol")
    assert (carol.display_name, carol.locale, carol.timezone) == ("Carol Diaz", "en-US", "Europe/Paris")
    assert carol.admin_checked_at is not None
    assert (await _reference(team, "aad-carol")) is not None  # the way to reach her, from the channel


async def test_a_moved_service_url_still_replaces_the_channels_reference(
    team: Team, engine: AsyncEngine
) -> None:
    card_id, card = await team.published()
    await team.click(team.invoke(BOB, button(card, "not_for_me"), card_id=card_id))
    moved = team.invoke(BOB, button(card, "share_x"), card_id=card_id)
    moved["serviceUrl"] = team.connector.service_url.rstrip("/") + "/moved/"
    with statements(engine) as seen:
        assert (await team.teams.post(moved)).status_code == 200
    assert len(_writes(seen, "conversation_ref")) == 1
    stored = await _reference(team, CHANNEL)
    assert stored is not None
    assert stored["serviceUrl"] == moved["serviceUrl"]


async def test_a_reference_whose_transaction_rolled_back_is_written_next_time(
    sessions: Sessions, engine: AsyncEngine, team: Team
) -> None:
    """The digest of a written reference is kept once committed only: a rollback leaves nothing behind."""
    async with sessions() as session:
        workspace_id = (await session.scalars(select(Member.workspace_id))).first()
    assert workspace_id is not None
    reference = {"serviceUrl": "https://smba.example.test/", "conversation": {"id": "a:someone"}}
    async with sessions() as session:
        await conversations.remember(
            session, workspace_id=workspace_id, key="aad-someone", reference=reference, now=NOW
        )
        await session.rollback()
    async with sessions() as session:
        await conversations.remember(
            session, workspace_id=workspace_id, key="aad-someone", reference=reference, now=NOW
        )
        await session.commit()
    assert await _reference(team, "aad-someone") == reference
