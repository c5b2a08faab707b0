"""The outbox with a platform that is not Slack: the domain reacts to the notifier's neutral codes alone
(a person gone, a channel unusable, credentials refused), names the platform's own reason where a text
shows it, and paces each destination by the notifier's own rate policy."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.messages import plain_text
from bot.messages.outbox import message_for
from bot.notifier import CHANNEL_UNUSABLE, RECIPIENT_GONE, TOKEN_REVOKED, TRANSIENT, Delivered, RatePolicy
from bot.services import outbox, recipients
from bot.services.connections import CONNECTED_KIND
from models import Member, OutboxMessage, OutboxState, Platform, Workspace

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ADMIN = "29:admin"


class TeamsLike:
    """A notifier of another platform: its own ids, its own errors, its own pace (one message every 10 s
    per destination, no burst)."""

    rate = RatePolicy(interval=timedelta(seconds=10), burst=1)

    def __init__(self, answers: dict[str, Delivered]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, str]] = []

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        self.sent.append((kind, destination))
        return self.answers.get(destination, Delivered(ok=True, message_id="1", channel=destination))


async def _seed(sessions: Sessions, destinations: list[str]) -> None:
    async with sessions() as session:
        session.add(Workspace(platform=Platform.TEAMS, external_id="tenant", created_at=NOW, updated_at=NOW))
        await session.flush()
        for user in ("29:bob", ADMIN):
            session.add(
                Member(workspace_id=1, external_id=user, locale="fr-FR", created_at=NOW, updated_at=NOW)
            )
        for i, destination in enumerate(destinations):
            await outbox.enqueue(
                session,
                workspace_id=1,
                kind=CONNECTED_KIND,
                destination=destination,
                payload={"network": "x", "lang": "en"},
                now=NOW,
                dedupe_key=f"test:{i}",
            )
        await session.commit()


async def _drain(sessions: Sessions, notifier: TeamsLike, clock: FrozenClock) -> int:
    return await outbox.drain(
        sessions,
        notifiers={"teams": notifier},
        now=clock.now,
        after_send=recipients.after_send(admins=frozenset({ADMIN})),
    )


async def _rows(sessions: Sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_a_person_gone_and_an_unusable_channel_are_told_by_neutral_codes(sessions: Sessions) -> None:
    await _seed(sessions, ["29:bob", "19:news@thread"])
    notifier = TeamsLike(
        {
            "29:bob": Delivered(ok=False, error=RECIPIENT_GONE, detail="UserNotFound"),
            "19:news@thread": Delivered(ok=False, error=CHANNEL_UNUSABLE, detail="ConversationNotFound"),
        }
    )
    await _drain(sessions, notifier, FrozenClock(NOW))
    async with sessions() as session:
        bob = (await session.scalars(select(Member).where(Member.external_id == "29:bob"))).one()
    assert bob.active is False
    rows = await _rows(sessions)
    assert [(r.destination, r.state, r.last_error) for r in rows[:2]] == [
        ("29:bob", OutboxState.FAILED, "UserNotFound"),
        ("19:news@thread", OutboxState.FAILED, "ConversationNotFound"),
    ]
    [alert] = [r for r in rows if r.kind == recipients.ADMIN_ALERT_KIND]
    assert (alert.destination, alert.state) == (ADMIN, OutboxState.SENT)
    assert alert.payload == {
        "channel": "19:news@thread",
        "code": CHANNEL_UNUSABLE,
        "cause": None,  # this notifier cannot tell: the text names the platform's own error
        "error": "ConversationNotFound",
        "lang": "fr",
    }
    shown = message_for(alert.kind, alert.payload)
    assert shown is not None
    assert plain_text(shown.summary) == (
        "Je n'ai pas pu publier dans #19:news@thread : le canal n'est pas utilisable (ConversationNotFound). "
        "Choisissez-en un autre avec `channel` ou dans la prochaine publication."
    )


async def test_refused_credentials_keep_every_message_waiting_and_mark_nobody_gone(
    sessions: Sessions,
) -> None:
    await _seed(sessions, ["29:bob"])
    notifier = TeamsLike(
        {"29:bob": Delivered(ok=False, error=TOKEN_REVOKED, detail="Unauthorized", retry_after=60)}
    )
    await _drain(sessions, notifier, FrozenClock(NOW))
    [row] = await _rows(sessions)
    assert (row.state, row.attempts, row.next_attempt_at) == (
        OutboxState.PENDING,
        0,
        NOW + timedelta(seconds=60),
    )
    assert str(row.last_error) == (
        "Unauthorized: the chat platform refuses Relais's bot token. Replace the platform's credentials in "
        "Relais's settings; this message waits until then."
    )
    async with sessions() as session:
        assert all((await session.scalars(select(Member.active))).all())


async def test_refused_credentials_are_explained_in_the_platforms_own_terms(
    sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    """The notifier says what to do (`Delivered.remedy`); the core names no platform and no setting."""
    await _seed(sessions, ["29:bob"])
    remedy = "Renew the client secret (MICROSOFT_APP_PASSWORD)"
    dead = Delivered(ok=False, error=TOKEN_REVOKED, detail="Unauthorized", retry_after=60, remedy=remedy)
    recipients._dead_tokens.discard(1)
    with caplog.at_level(logging.ERROR, logger="bot.services.recipients"):
        await _drain(sessions, TeamsLike({"29:bob": dead}), FrozenClock(NOW))
    [row] = await _rows(sessions)
    assert str(row.last_error) == (
        "Unauthorized: the chat platform refuses Relais's bot token. Renew the client secret "
        "(MICROSOFT_APP_PASSWORD); this message waits until then."
    )
    [logged] = [record.getMessage() for record in caplog.records if "bot token" in record.getMessage()]
    assert logged.endswith(remedy)
    assert "SLACK" not in logged


async def test_each_destination_is_paced_by_the_notifiers_own_policy(sessions: Sessions) -> None:
    await _seed(sessions, ["29:bob", "29:bob", ADMIN])
    notifier = TeamsLike({})
    clock = FrozenClock(NOW)
    assert await _drain(sessions, notifier, clock) == 2  # one to Bob (no burst), one to the admin
    held = (await _rows(sessions))[1]
    assert held.state is OutboxState.PENDING
    assert NOW + timedelta(seconds=10) <= held.next_attempt_at < NOW + timedelta(seconds=11)
    clock.advance(timedelta(seconds=9))
    assert await _drain(sessions, notifier, clock) == 0
    clock.advance(timedelta(seconds=2))
    assert await _drain(sessions, notifier, clock) == 1
    assert notifier.sent == [(CONNECTED_KIND, "29:bob"), (CONNECTED_KIND, ADMIN), (CONNECTED_KIND, "29:bob")]


@given(
    retry_after=st.one_of(st.none(), st.floats(min_value=0.001, max_value=86_400)),
    attempts=st.integers(min_value=1, max_value=outbox.MAX_ATTEMPTS - 1),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_a_retry_never_comes_sooner_than_asked_and_at_most_a_quarter_later(
    retry_after: float | None, attempts: int, draw: float
) -> None:
    """Whatever the jitter draws: the platform's Retry-After (else the backoff for this attempt) is the
    least a failed message waits, and a quarter more the most."""
    row = OutboxMessage(state=OutboxState.SENDING, attempts=attempts, next_attempt_at=NOW)
    failed = Delivered(ok=False, error=TRANSIENT, detail="503 ServiceUnavailable", retry_after=retry_after)

    outbox.record(row, failed, NOW, jitter=lambda: draw)

    asked = timedelta(seconds=retry_after or outbox.BACKOFF_SECONDS[attempts - 1])
    assert row.state is OutboxState.PENDING
    # (to the microsecond a timedelta keeps)
    assert NOW + asked <= row.next_attempt_at <= NOW + asked * 1.25 + timedelta(microseconds=1)
