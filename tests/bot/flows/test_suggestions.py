"""The suggestion flows with no chat platform: what they queue in the outbox and what a recording
notifier is then given, including a review that lands while an admin decides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core import Relais
from bot.flows import acting, suggestions
from bot.flows.acting import Who
from bot.flows.commands import run_command
from bot.messages import Message, text
from bot.notifier import RECIPIENT_GONE, Delivered, RatePolicy
from bot.services import outbox, recipients
from models import OutboxMessage, OutboxState, Platform, Suggestion, SuggestionState
from tests.bot.flows.conftest import Directory, TextSurface

Sessions = async_sessionmaker[AsyncSession]
ARTICLE = "http://127.0.0.2:9/article"


def who(user: str) -> Who:
    return Who(Platform.SLACK, "T1", user)


class Recorder:
    """A platform's notifier that records each message; `during` runs while the first review is sent."""

    rate = RatePolicy(interval=timedelta(milliseconds=1), burst=100)

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.during: Any = None
        self.review_answer: Delivered | None = None  # how every review send ends (default: delivered)

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        if kind == "suggestion_review" and self.during is not None:
            during, self.during = self.during, None
            await during()
        self.sent.append((kind, destination, payload))
        if kind == "suggestion_review" and self.review_answer is not None:
            return self.review_answer
        return Delivered(ok=True, message_id=f"m{len(self.sent)}", channel=f"D-{destination}")


@pytest.fixture(autouse=True)
async def boss_is_a_member(core: Relais, directory: Directory) -> None:
    """UBOSS, named in RELAIS_ADMINS, has used Relais in this workspace: the ids in RELAIS_ADMINS review
    only the workspaces they are members of."""
    await acting.caller(core, directory, who("UBOSS"))


async def _drain(core: Relais, recorder: Recorder) -> None:
    await outbox.drain(
        core.sessions,
        notifiers={"slack": recorder},
        now=core.clock.now,
        after_send=recipients.after_send(admins=core.settings.relais_admins),
    )


async def test_a_review_that_lands_while_an_admin_decides_is_closed_at_once(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    """The admin rejects while their review message is on its way: nothing is left with live buttons,
    the employee is told once."""
    reply = await run_command(core, surface, directory, who("UANNE"), f"suggest {ARTICLE} worth it")
    assert reply == Message(text("fr", "suggest_sent"))
    recorder = Recorder()

    async def reject() -> None:
        assert await suggestions.reject(core, directory, who("UBOSS"), 1) is None

    recorder.during = reject
    await _drain(core, recorder)
    assert [(kind, destination) for kind, destination, _ in recorder.sent] == [
        ("suggestion_review", "UBOSS"),
        ("suggestion_outcome", "UANNE"),
        ("suggestion_review_update", "D-UBOSS"),
    ]
    update = recorder.sent[2][2]
    assert (update["message_id"], update["decided"]) == (
        "m1",
        {"state": "rejected", "by": "UBOSS", "post_id": None},
    )
    async with sessions() as session:
        suggestion = (await session.scalars(select(Suggestion))).one()
        states = (await session.scalars(select(OutboxMessage.state))).all()
    assert suggestion.state is SuggestionState.REJECTED
    assert suggestion.review_messages == [
        {"channel": "D-UBOSS", "message_id": "m1", "admin": "UBOSS", "lang": "en"}
    ]
    assert states == [OutboxState.SENT] * 3


async def test_deciding_twice_or_without_the_right_changes_nothing(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    await run_command(core, surface, directory, who("UANNE"), f"suggest {ARTICLE}")
    assert await suggestions.reject(core, directory, who("UANNE"), 1) == Message(
        text("fr", "not_admin", command="queue")
    )
    assert await suggestions.reject(core, directory, who("UBOSS"), 99) == Message(
        text("en", "unknown_suggestion", id=99)
    )
    assert await suggestions.reject(core, directory, who("UBOSS"), 1) is None
    again = await suggestions.approve(core, surface, directory, who("UBOSS"), 1)
    assert again == Message(text("en", "suggestion_already_decided"))
    assert surface.forms == []
    async with sessions() as session:
        kinds = (await session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id))).all()
    # One review (cancelled: not sent yet when decided), one answer to Anne; no second decision.
    assert kinds == ["suggestion_review", "suggestion_outcome"]


async def test_reviews_sent_before_the_outbox_carried_them_are_closed_too(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    """A suggestion reviewed by an older version: where its reviews went was saved with Slack's word for
    a message id (`ts`)."""
    await run_command(core, surface, directory, who("UANNE"), f"suggest {ARTICLE}")
    async with sessions() as session:
        suggestion = (await session.scalars(select(Suggestion))).one()
        suggestion.review_messages = [
            {"channel": "DBOSS", "ts": "1700000000.000100", "admin": "UBOSS", "lang": "en"}
        ]
        await session.execute(update(OutboxMessage).values(state=OutboxState.SENT))  # sent long ago
        await session.commit()
    assert await suggestions.reject(core, directory, who("UBOSS"), 1) is None
    recorder = Recorder()
    await _drain(core, recorder)
    closing = [
        (destination, payload["message_id"])
        for kind, destination, payload in recorder.sent
        if kind == "suggestion_review_update"
    ]
    assert closing == [("DBOSS", "1700000000.000100")]


async def test_a_review_that_fails_for_good_after_the_decision_says_nothing_more_to_the_employee(
    core: Relais, surface: TextSurface, directory: Directory, sessions: Sessions
) -> None:
    """The only admin decides while their review is on its way, and that review then fails for good: the
    employee hears the decision, not that no admin could be reached."""
    await run_command(core, surface, directory, who("UANNE"), f"suggest {ARTICLE}")
    recorder = Recorder()
    recorder.review_answer = Delivered(ok=False, error=RECIPIENT_GONE, detail="user_not_found")

    async def reject() -> None:
        assert await suggestions.reject(core, directory, who("UBOSS"), 1) is None

    recorder.during = reject
    await _drain(core, recorder)
    assert [(kind, destination) for kind, destination, _ in recorder.sent] == [
        ("suggestion_review", "UBOSS"),
        ("suggestion_outcome", "UANNE"),
    ]
