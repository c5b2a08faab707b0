"""Who hears of a delivery and what it changes, through the outbox's drain (`bot.services.delivery`) with
a recording notifier: everything stays inside the workspace the message belongs to, whatever the
platform, when one deployment serves several."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.notifier import Delivered
from bot.services import delivery, outbox
from models import Member, OutboxMessage, ShareStatus, Suggestion, Workspace
from scheduler import jobs
from tests.fakes.notifier import RecordingNotifier
from tests.scheduler.test_weekly import BOARD_TIME, _post, _share

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Paris


async def _workspace(session: AsyncSession, platform: str, external_id: str) -> Workspace:
    workspace = Workspace(
        platform=platform, external_id=external_id, timezone="Europe/Paris", created_at=NOW, updated_at=NOW
    )
    session.add(workspace)
    await session.flush()
    return workspace


async def _member(session: AsyncSession, workspace: Workspace, external_id: str, **fields: Any) -> Member:
    member = Member(
        workspace_id=workspace.id, external_id=external_id, created_at=NOW, updated_at=NOW, **fields
    )
    session.add(member)
    await session.flush()
    return member


class Refusing(RecordingNotifier):
    """Records what it sends; answers `refusals[destination]` (a failed `Delivered`) for those."""

    def __init__(self, refusals: dict[str, Delivered] | None = None) -> None:
        super().__init__()
        self.refusals = refusals or {}

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        if destination in self.refusals:
            return self.refusals[destination]
        return await super().send(
            kind=kind, destination=destination, payload=payload, workspace_id=workspace_id
        )


async def _deliver(
    notifiers: dict[str, RecordingNotifier], sessions: Sessions, *, admins: frozenset[str]
) -> int:
    return await delivery.deliver(
        sessions, notifiers=dict(notifiers), now=FrozenClock(NOW).now, admins=admins
    )


async def test_a_review_lands_only_on_its_own_workspaces_suggestion(sessions: Sessions) -> None:
    """A review message of one workspace naming a suggestion id of another (a row of a deleted
    suggestion whose id was reused, a payload written by another version): the other workspace's
    suggestion is not touched, and nothing is recorded as where its review landed."""
    async with sessions() as session:
        acme = await _workspace(session, "text", "ACME")
        other = await _workspace(session, "text", "OTHER")
        anne = await _member(session, acme, "UANNE")
        await _member(session, other, "UBOSS", is_admin=True)
        suggestion = Suggestion(
            workspace_id=acme.id,
            member_id=anne.id,
            url="https://example.com/a",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(suggestion)
        await session.flush()
        await outbox.enqueue(
            session,
            workspace_id=other.id,
            kind="suggestion_review",
            destination="UBOSS",
            payload={"suggestion_id": suggestion.id, "author": "UANNE", "url": suggestion.url, "lang": "en"},
            now=NOW,
        )
        await session.commit()
    recorder = RecordingNotifier()

    assert await _deliver({"text": recorder}, sessions, admins=frozenset()) == 1

    async with sessions() as session:
        kept = await session.get_one(Suggestion, suggestion.id)
        assert kept.review_messages == []
        assert [m.kind for m in (await session.scalars(select(OutboxMessage))).all()] == ["suggestion_review"]


async def test_a_teams_channels_trouble_is_told_to_this_workspaces_admins_only(sessions: Sessions) -> None:
    """RELAIS_ADMINS names people of every workspace the deployment serves: a channel of a Teams
    workspace that cannot be posted in is told to its own admins (flagged by Teams, or named in
    RELAIS_ADMINS and met here), not to a Slack admin's id nor to an id Relais never met there."""
    async with sessions() as session:
        slack = await _workspace(session, "slack", "T0001")
        teams = await _workspace(session, "teams", "TENANT")
        await _member(session, slack, "USLACKBOSS")
        await _member(session, teams, "aad-owner", is_admin=True)
        await _member(session, teams, "aad-boss")
        await _member(session, teams, "aad-anne")
        await _member(session, teams, "aad-left", is_admin=True, active=False)
        await outbox.enqueue(
            session,
            workspace_id=teams.id,
            kind="social_connected",
            destination="19:news@thread.tacv2",
            payload={"network": "linkedin", "lang": "en"},
            now=NOW,
        )
        await session.commit()
    refused = Delivered(ok=False, error="channel_unusable", detail="Forbidden")
    teams_chat = Refusing({"19:news@thread.tacv2": refused})

    await _deliver(
        {"teams": teams_chat}, sessions, admins=frozenset({"USLACKBOSS", "aad-boss", "aad-never-met"})
    )

    async with sessions() as session:
        alerts = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "admin_alert"))
        ).all()
    assert sorted((a.workspace_id, a.destination) for a in alerts) == [
        (teams.id, "aad-boss"),
        (teams.id, "aad-owner"),
    ]
    assert sorted(sent.destination for sent in teams_chat.of_kind("admin_alert")) == ["aad-boss", "aad-owner"]


async def test_relais_channel_is_the_leaderboards_fallback_in_slack_workspaces_only(
    sessions: Sessions,
) -> None:
    """RELAIS_CHANNEL is a Slack channel id: a Slack workspace with no channel of its own gets its
    leaderboard there; a Teams workspace with none gets no channel message (its ranks still go out
    privately), rather than a message to another platform's id."""
    week = BOARD_TIME - timedelta(days=2)
    async with sessions() as session:
        for platform, external_id, person in (("slack", "T0001", "UANA"), ("teams", "TENANT", "aad-ana")):
            workspace = await _workspace(session, platform, external_id)
            ana = await _member(session, workspace, person)
            session.add(post := _post(workspace, ana, "News", week - timedelta(days=1)))
            await session.flush()
            session.add(_share(ana, post, week, ShareStatus.POSTED))
        await session.commit()
    slack_chat, teams_chat = RecordingNotifier(), RecordingNotifier()
    clock = FrozenClock(BOARD_TIME)
    ctx = jobs.Context(
        sessions, {"slack": slack_chat, "teams": teams_chat}, clock.now, fallback_channel="C0GENERAL"
    )

    await jobs.run_job(ctx, "leaderboard")

    assert [(s.kind, s.destination) for s in slack_chat.sent] == [
        ("leaderboard", "C0GENERAL"),
        ("rank", "UANA"),
    ]
    assert [(s.kind, s.destination) for s in teams_chat.sent] == [("rank", "aad-ana")]
    async with sessions() as session:
        boards = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "leaderboard"))
        ).all()
    assert [b.destination for b in boards] == ["C0GENERAL"]


async def test_alerts_queued_before_causes_are_told_in_the_same_words(sessions: Sessions) -> None:
    """Rows queued by an earlier version name only Slack's error (the one platform then): they are sent
    with the words of its cause, as a row naming the cause would be."""
    async with sessions() as session:
        workspace = await _workspace(session, "text", "ACME")
        rows: list[tuple[str, dict[str, Any]]] = [
            ("admin_alert", {"channel": "C0OUT", "error": "not_in_channel", "lang": "fr"}),
            ("post_refused", {"post_id": 4, "channel": "C0ANN", "code": "channel_unusable",
                              "error": "restricted_action", "lang": "en"}),
            ("post_refused", {"post_id": 5, "channel": "C0NEWS", "code": "too_big", "error": "msg_too_long",
                              "lang": "en"}),
            ("admin_alert", {"channel": "C0ODD", "error": "something_new", "lang": "en"}),
        ]  # fmt: skip
        for kind, payload in rows:
            await outbox.enqueue(
                session, workspace_id=workspace.id, kind=kind, destination="UBOSS", payload=payload, now=NOW
            )
        await session.commit()
    recorder = RecordingNotifier()

    await _deliver({"text": recorder}, sessions, admins=frozenset())

    assert [sent.text for sent in recorder.sent] == [
        "Je n'ai pas pu publier dans #C0OUT : je n'en suis pas membre. Ajoutez-moi au canal, ou "
        "choisissez-en un autre avec `channel` ou dans la prochaine publication.",
        "Post #4 was not published in #C0ANN: posting there is restricted (an announcement-only channel, for "
        "instance). Ask whoever manages the channel to let Relais post there, or queue the post into another "
        "channel.",
        "Post #5 was not published in #C0NEWS: The message was refused as too long (msg_too_long). This is a "
        "bug in Relais; please report it.",
        "I could not post in #C0ODD: the channel cannot be used (something_new). Choose another one with "
        "`channel` or in the next post.",
    ]
