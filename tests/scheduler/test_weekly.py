"""The weekly rounds with a clock the tests control: the leaderboard (channel + private ranks) and the
nudges, each exactly once per period, to every eligible member and nobody else, surviving a crash and a
second clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from bot.notifier import Delivered, Notifier
from bot.services import outbox, progress, weekly
from bot.services.leaderboard import weekly_board
from handlers.slack.notifier import SlackNotifier
from models import (
    Click,
    Dismissal,
    JobRun,
    Member,
    OutboxMessage,
    OutboxState,
    Platform,
    Post,
    PostState,
    Share,
    ShareStatus,
    TrackedLink,
    Workspace,
)
from scheduler import jobs
from tests.conftest import BOT_TOKEN, pending_writes
from tests.fakes.notifier import RecordingNotifier

# Rows these tests write themselves are stamped with a fixed time (there is no wall-clock default).
CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

Sessions = async_sessionmaker[AsyncSession]

# Friday 27 November 2026, 16:00 in Paris is 15:00 UTC: the default leaderboard moment.
BOARD_TIME = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
# Tuesday 1 December 2026, 10:00 in Paris is 09:00 UTC: the default nudge moment.
NUDGE_TIME = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def recorder() -> RecordingNotifier:
    """Where the workspace's messages go: the rules are checked on what the core sent, not on Slack's text."""
    return RecordingNotifier()


def _ctx(sessions: Sessions, notifier: Notifier, clock: FrozenClock) -> jobs.Context:
    return jobs.Context(sessions, {"slack": notifier}, clock.now)


def _slack(fake: FakeSlack) -> SlackNotifier:
    return SlackNotifier(AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url))


async def _workspace(session: AsyncSession) -> Workspace:
    workspace = Workspace(
        platform=Platform.SLACK,
        external_id="T0001",
        timezone="Europe/Paris",
        default_channel="C0NEWS",
        created_at=CREATED,
        updated_at=CREATED,
    )
    session.add(workspace)
    await session.flush()
    return workspace


def _member(workspace: Workspace, external_id: str, **fields: Any) -> Member:
    values: dict[str, Any] = {"timezone": "Europe/Paris", "display_name": external_id.title(), **fields}
    return Member(
        workspace_id=workspace.id, external_id=external_id, **values, created_at=CREATED, updated_at=CREATED
    )


def _post(workspace: Workspace, admin: Member, title: str, published_at: datetime) -> Post:
    return Post(
        workspace_id=workspace.id,
        url=f"https://example.com/{title.lower()}",
        title=title,
        captions=[f"{title}!"],
        networks=["linkedin", "x"],
        channels=["C0NEWS"],
        state=PostState.PUBLISHED,
        publish_at=published_at,
        published_at=published_at,
        created_by_id=admin.id,
        created_at=CREATED,
        updated_at=CREATED,
    )


def _share(member: Member, post: Post, at: datetime, status: ShareStatus, network: str = "linkedin") -> Share:
    return Share(
        workspace_id=member.workspace_id,
        member_id=member.id,
        post_id=post.id,
        network=network,
        status=status,
        created_at=at,
        updated_at=at,
    )


# ---------------------------------------------------------------------------------------------------
# Leaderboard


async def _seed_board(sessions: Sessions) -> None:
    """This week (the 7 days before Friday 16:00 Paris): Ana posts twice (20), Ben opens his link once
    (3) and brings 5 clicks (5) and shared last week too (streak +5), Cleo opens hers once (3) and had a
    big last week (streak +5); Dan did a lot last week and nothing this week; Eve never did anything."""
    async with sessions() as session:
        workspace = await _workspace(session)
        ana, ben, cleo, dan, eve = (
            _member(workspace, name) for name in ("UANA", "UBEN", "UCLEO", "UDAN", "UEVE")
        )
        ben.locale = "fr-FR"
        session.add_all([ana, ben, cleo, dan, eve])
        await session.flush()
        posts = [_post(workspace, ana, f"Post{i}", BOARD_TIME - timedelta(days=12 - i)) for i in range(4)]
        session.add_all(posts)
        await session.flush()
        this_week, last_week = BOARD_TIME - timedelta(days=2), BOARD_TIME - timedelta(days=9)
        session.add_all(
            [
                _share(ana, posts[0], this_week, ShareStatus.POSTED),
                _share(ana, posts[1], this_week + timedelta(hours=1), ShareStatus.POSTED),
                _share(ben, posts[2], this_week, ShareStatus.INTENT),
                _share(cleo, posts[3], this_week - timedelta(hours=1), ShareStatus.INTENT),
                _share(ben, posts[0], last_week, ShareStatus.INTENT),
                _share(cleo, posts[0], last_week, ShareStatus.POSTED),
                _share(cleo, posts[1], last_week, ShareStatus.POSTED),
                _share(cleo, posts[2], last_week, ShareStatus.POSTED),
                _share(dan, posts[1], last_week, ShareStatus.POSTED),
                _share(eve, posts[3], this_week, ShareStatus.FAILED),  # not a share
            ]
        )
        link = TrackedLink(
            workspace_id=workspace.id,
            post_id=posts[2].id,
            member_id=ben.id,
            network="linkedin",
            code="benlink",
            created_at=CREATED,
        )
        session.add(link)
        await session.flush()
        session.add_all(
            Click(
                workspace_id=workspace.id, link_id=link.id, at=this_week + timedelta(minutes=i), counted=True
            )
            for i in range(5)
        )
        await session.commit()


async def test_leaderboard_ranks_everyone_who_took_part_and_names_nobody_else(sessions: Sessions) -> None:
    await _seed_board(sessions)
    async with sessions() as session:
        board = await weekly_board(session, workspace_id=1, end=BOARD_TIME)
    assert [(e.external_id, e.points, e.rank, e.previous_rank, e.streak) for e in board.entries] == [
        ("UANA", 20, 1, None, 0),
        ("UBEN", 13, 2, 3, 1),
        ("UCLEO", 8, 3, 1, 1),
    ]
    assert [e.external_id for e in board.climbers] == ["UBEN"]
    assert (board.shares, board.clicks, board.top_post_title) == (4, 5, "Post0")


async def test_clicks_count_at_most_twenty_per_link_in_a_week(sessions: Sessions) -> None:
    async with sessions() as session:
        workspace = await _workspace(session)
        star = _member(workspace, "USTAR")
        session.add(star)
        await session.flush()
        post = _post(workspace, star, "Viral", BOARD_TIME - timedelta(days=3))
        session.add(post)
        await session.flush()
        link = TrackedLink(
            workspace_id=1, post_id=post.id, member_id=star.id, network="x", code="viral", created_at=CREATED
        )
        session.add(link)
        await session.flush()
        session.add_all(
            Click(
                workspace_id=1, link_id=link.id, at=BOARD_TIME - timedelta(hours=1, minutes=i), counted=True
            )
            for i in range(25)
        )
        session.add(Click(workspace_id=1, link_id=link.id, at=BOARD_TIME - timedelta(hours=3), counted=False))
        await session.commit()
    async with sessions() as session:
        board = await weekly_board(session, workspace_id=1, end=BOARD_TIME)
    [entry] = board.entries
    assert (entry.points, entry.clicks, entry.shares) == (20, 25, 0)


async def test_ties_are_broken_by_shares_then_by_who_shared_first(sessions: Sessions) -> None:
    async with sessions() as session:
        workspace = await _workspace(session)
        late, early = _member(workspace, "ULATE"), _member(workspace, "UEARLY")
        session.add_all([late, early])
        await session.flush()
        post = _post(workspace, late, "P", BOARD_TIME - timedelta(days=3))
        session.add(post)
        await session.flush()
        session.add_all(
            [
                _share(late, post, BOARD_TIME - timedelta(hours=2), ShareStatus.INTENT),
                _share(early, post, BOARD_TIME - timedelta(hours=5), ShareStatus.INTENT),
            ]
        )
        await session.commit()
    for _ in range(3):
        async with sessions() as session:
            board = await weekly_board(session, workspace_id=1, end=BOARD_TIME)
        assert [(e.external_id, e.rank) for e in board.entries] == [("UEARLY", 1), ("ULATE", 2)]


async def test_leaderboard_job_posts_once_at_its_moment_with_private_ranks(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    await _seed_board(sessions)
    clock = FrozenClock(BOARD_TIME - timedelta(minutes=1))
    ctx = _ctx(sessions, recorder, clock)
    await jobs.run_job(ctx, "leaderboard")
    assert recorder.sent == []  # 15:59 in Paris: not yet

    clock.advance(timedelta(minutes=1))
    await jobs.run_job(ctx, "leaderboard")
    [board] = recorder.of_kind("leaderboard")
    assert board.destination == "C0NEWS"
    assert "week 2026-W48" in board.text
    for name in ("Uana", "Uben", "Ucleo"):
        assert name in board.body
    assert "Udan" not in board.body
    assert "Ueve" not in board.body
    assert "Biggest climbers: Uben (+1)" in board.body
    assert "4 shares, 5 clicks, 3 people took part" in board.body

    dms = recorder.dms()
    assert sorted(dms) == ["UANA", "UBEN", "UCLEO"]
    assert {sent.kind for sent in recorder.sent if sent.destination in dms} == {"rank"}
    assert dms["UANA"] == [
        "This week you are #1 of 3 with 20 points (2 shares, 0 clicks) — your first week on the board. "
        "Thank you for sharing!"
    ]
    assert dms["UBEN"][0].startswith("Cette semaine vous êtes n° 2 sur 3 avec 13 points")
    assert "1 place(s) de gagnée(s)" in dms["UBEN"][0]

    # Later runs the same week, or a second clock, send nothing more.
    clock.advance(timedelta(hours=3))
    await asyncio.gather(
        jobs.run_job(ctx, "leaderboard"), jobs.run_job(_ctx(sessions, recorder, clock), "leaderboard")
    )
    assert len(recorder.sent) == 4
    async with sessions() as session:
        runs = (await session.scalars(select(JobRun))).all()
        assert [(r.job, r.period_key) for r in runs] == [("leaderboard", "2026-W48")]


async def test_two_clocks_at_the_same_moment_send_the_leaderboard_once(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    await _seed_board(sessions)
    clocks = [FrozenClock(BOARD_TIME + timedelta(minutes=2)) for _ in range(2)]
    await asyncio.gather(*(jobs.run_job(_ctx(sessions, recorder, c), "leaderboard") for c in clocks))
    recipients = [sent.destination for sent in recorder.sent]
    assert sorted(recipients) == ["C0NEWS", "UANA", "UBEN", "UCLEO"]


class _Crashing:
    """A notifier that sends `before` messages, then hangs like a process about to be killed."""

    def __init__(self, real: Notifier, before: int) -> None:
        self.real, self.before, self.sent = real, before, 0
        self.rate = real.rate

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        if self.sent >= self.before:
            await asyncio.Event().wait()
        self.sent += 1
        return await self.real.send(
            kind=kind, destination=destination, payload=payload, workspace_id=workspace_id
        )


async def test_a_crash_mid_round_is_completed_after_restart_without_duplicates(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    async with sessions() as session:
        workspace = await _workspace(session)
        members = [_member(workspace, f"U{i:03d}") for i in range(30)]
        session.add_all(members)
        await session.flush()
        post = _post(workspace, members[0], "Big", BOARD_TIME - timedelta(days=3))
        session.add(post)
        await session.flush()
        session.add_all(
            _share(m, post, BOARD_TIME - timedelta(days=1, minutes=i), ShareStatus.INTENT)
            for i, m in enumerate(members)
        )
        await session.commit()
    clock = FrozenClock(BOARD_TIME)
    run = asyncio.create_task(jobs.run_job(_ctx(sessions, _Crashing(recorder, 10), clock), "leaderboard"))

    async def ten_sent() -> bool:
        return len(recorder.sent) >= 10

    for _ in range(500):
        if await ten_sent():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    run.cancel()  # the process dies with one message claimed and 20 waiting
    with pytest.raises(asyncio.CancelledError):
        await run
    assert len(recorder.sent) == 10

    clock.advance(timedelta(minutes=6))  # the restarted clock's next outbox pass
    await jobs.run_job(_ctx(sessions, recorder, clock), "outbox")
    await jobs.run_job(_ctx(sessions, recorder, clock), "leaderboard")  # the period stays done
    recipients = [sent.destination for sent in recorder.sent]
    assert len(recipients) == 31
    assert len(set(recipients)) == 31  # the channel and 30 people, once each
    async with sessions() as session:
        states = (await session.scalars(select(OutboxMessage.state))).all()
        assert set(states) == {OutboxState.SENT}


# ---------------------------------------------------------------------------------------------------
# Nudges


PEOPLE = ("UADMIN", "UPARIS", "UOPTOUT", "UPAUSED", "USHARED", "UNY", "UGONE", "UQUIET", "UMONTH", "UFR")


async def _seed_nudges(sessions: Sessions) -> None:
    now = NUDGE_TIME
    async with sessions() as session:
        workspace = await _workspace(session)
        admin = _member(workspace, "UADMIN", last_nudged_at=now - timedelta(days=1), nudges_unanswered=0)
        people = [
            _member(workspace, "UPARIS"),  # eligible
            _member(workspace, "UOPTOUT", opted_out=True),
            _member(workspace, "UPAUSED", paused_until=now + timedelta(days=7)),
            _member(workspace, "USHARED"),  # shared 3 days ago
            _member(workspace, "UNY", timezone="America/New_York"),  # eligible later, at 10:00 in New York
            _member(workspace, "UGONE", active=False),
            _member(workspace, "UQUIET", nudges_unanswered=4, last_nudged_at=now - timedelta(days=7)),
            _member(workspace, "UMONTH", nudges_unanswered=4, last_nudged_at=now - timedelta(days=29)),
            _member(workspace, "UFR", locale="fr-FR"),
        ]
        session.add(admin)
        session.add_all(people)
        await session.flush()
        posts = [_post(workspace, admin, f"Post{i}", now - timedelta(days=5 - i)) for i in range(5)]
        old = _post(workspace, admin, "Old", now - timedelta(days=60))
        session.add_all([*posts, old])
        await session.flush()
        by_id = {m.external_id: m for m in people}
        session.add(_share(by_id["USHARED"], posts[0], now - timedelta(days=3), ShareStatus.INTENT))
        session.add(_share(by_id["UPARIS"], posts[4], now - timedelta(days=9), ShareStatus.INTENT))
        session.add(
            Dismissal(
                workspace_id=workspace.id,
                member_id=by_id["UPARIS"].id,
                post_id=posts[3].id,
                created_at=CREATED,
            )
        )
        await session.commit()


async def test_nudges_reach_every_eligible_member_once_in_their_working_hours(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    await _seed_nudges(sessions)
    clock = FrozenClock(NUDGE_TIME - timedelta(minutes=1))
    ctx = _ctx(sessions, recorder, clock)
    await jobs.run_job(ctx, "nudges")
    assert recorder.dms() == {}  # 09:59 in Paris

    clock.advance(timedelta(minutes=1))
    await jobs.run_job(ctx, "nudges")
    dms = recorder.dms()
    assert sorted(dms) == ["UFR", "UMONTH", "UPARIS"]
    [paris] = recorder.to("UPARIS")
    assert paris.kind == "nudge"
    # Three recent posts not shared and not dismissed (Post4 shared, Post3 dismissed), newest first.
    assert [post["title"] for post in paris.payload["posts"]] == ["Post2", "Post1", "Post0"]
    shown = paris.body
    assert shown.index("Post2") < shown.index("Post1") < shown.index("Post0")
    assert "Post3" not in shown
    assert "Post4" not in shown
    assert "Old" not in shown
    assert paris.actions.count("share_linkedin") == 3  # a share button under each post
    assert "💡" in shown  # and a tip
    assert recorder.to("UFR")[0].text.startswith("Bonjour")

    # New York's 10:00 comes six hours later; Paris is not nudged twice.
    clock.advance(timedelta(hours=6))
    await jobs.run_job(ctx, "nudges")
    await jobs.run_job(ctx, "nudges")
    dms = recorder.dms()
    assert sorted(dms) == ["UFR", "UMONTH", "UNY", "UPARIS"]
    assert all(len(texts) == 1 for texts in dms.values())
    async with sessions() as session:
        paris_member = (await session.scalars(select(Member).where(Member.external_id == "UPARIS"))).one()
        assert (paris_member.nudges_unanswered, paris_member.last_nudged_at) == (1, NUDGE_TIME)


async def test_no_nudge_outside_working_hours_or_at_weekends(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    await _seed_nudges(sessions)
    # The clock was down from Tuesday 08:00 to Tuesday 19:00 Paris: nothing in the evening…
    clock = FrozenClock(NUDGE_TIME + timedelta(hours=9))
    ctx = _ctx(sessions, recorder, clock)
    await jobs.run_job(ctx, "nudges")
    assert "UPARIS" not in recorder.dms()
    # …the round goes out the next working morning, the same week.
    clock.advance(timedelta(hours=14))  # Wednesday 09:00 Paris
    await jobs.run_job(ctx, "nudges")
    assert "UPARIS" in recorder.dms()

    # The next week, the moment (Friday 17:30) is missed until Saturday: at 10:00 on Saturday and
    # Sunday — inside the working hours of a weekday — nothing goes out, and Monday starts a new week.
    async with sessions() as session:
        workspace = await session.get_one(Workspace, 1)
        workspace.settings = {"nudges": {"day": 4, "time": "17:30"}}
        await session.commit()
    before = len(recorder.sent)
    for day in (12, 13, 14):  # Saturday, Sunday, Monday 10:00 in Paris (09:00 UTC)
        clock.set(datetime(2026, 12, day, 9, 0, tzinfo=UTC))
        await jobs.run_job(ctx, "nudges")
    assert len(recorder.sent) == before
    async with sessions() as session:
        periods = (await session.scalars(select(JobRun.period_key))).all()
        assert "2026-W50@Europe/Paris" not in periods  # skipped, not claimed


async def _make_round(sessions: Sessions) -> None:
    """This week's reminders planned and queued (UPARIS, UMONTH, UFR), not sent yet."""
    async with sessions() as session:
        workspace = await session.get_one(Workspace, 1)
        assert await weekly.nudge_round(session, workspace=workspace, now=NUDGE_TIME) == 3
        await session.commit()


async def test_opting_out_after_the_round_is_made_is_obeyed_at_send_time(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    await _seed_nudges(sessions)
    await _make_round(sessions)
    async with sessions() as session:
        member = (await session.scalars(select(Member).where(Member.external_id == "UPARIS"))).one()
        member.opted_out = True
        await session.commit()
    await jobs.run_job(_ctx(sessions, recorder, FrozenClock(NUDGE_TIME)), "outbox")
    assert sorted(recorder.dms()) == ["UFR", "UMONTH"]
    async with sessions() as session:
        cancelled = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.destination == "UPARIS"))
        ).one()
        assert cancelled.state is OutboxState.CANCELLED


async def test_a_nudge_held_up_until_the_evening_waits_for_the_next_morning(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    await _seed_nudges(sessions)
    await _make_round(sessions)
    # Slack was down all day: the outbox only gets to them at 19:00 in Paris.
    clock = FrozenClock(NUDGE_TIME + timedelta(hours=9))
    await jobs.run_job(_ctx(sessions, recorder, clock), "outbox")
    assert recorder.dms() == {}
    async with sessions() as session:
        waiting = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "nudge"))).all()
        morning = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # Wednesday 09:00 in Paris
        assert {(m.state, m.next_attempt_at) for m in waiting} == {(OutboxState.PENDING, morning)}
    clock.set(morning)
    await jobs.run_job(_ctx(sessions, recorder, clock), "outbox")
    assert sorted(recorder.dms()) == ["UFR", "UMONTH", "UPARIS"]


async def test_backoff_turns_weekly_into_monthly_until_a_share(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    await _seed_nudges(sessions)
    clock = FrozenClock(NUDGE_TIME)
    ctx = _ctx(sessions, recorder, clock)

    async def week(number: int, *, share: bool = False) -> bool:
        """Run week `number`'s round (a fresh post each week); True if UPARIS was nudged."""
        clock.set(NUDGE_TIME + timedelta(days=7 * number))
        async with sessions() as session:
            workspace = await session.get_one(Workspace, 1)
            admin = (await session.scalars(select(Member).where(Member.external_id == "UADMIN"))).one()
            post = _post(workspace, admin, f"Week{number}", clock.now() - timedelta(hours=1))
            session.add(post)
            await session.flush()
            if share:
                member = (await session.scalars(select(Member).where(Member.external_id == "UPARIS"))).one()
                session.add(_share(member, post, clock.now() - timedelta(days=8), ShareStatus.INTENT))
            await session.commit()
        before = len((recorder.dms()).get("UPARIS", []))
        await jobs.run_job(ctx, "nudges")
        return len((recorder.dms()).get("UPARIS", [])) > before

    nudged = [n for n in range(8) if await week(n)]
    # Four unanswered weekly nudges, then one a month: week 3 + 28 days is week 7.
    assert nudged == [0, 1, 2, 3, 7]
    # A share (more than 7 days ago, so the member is quiet again) brings them back to weekly.
    assert await week(9, share=True)
    assert await week(10)


async def test_a_big_round_shows_its_progress_to_the_admins(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    async with sessions() as session:
        workspace = await _workspace(session)
        boss = _member(workspace, "UBOSS", is_admin=True, locale="fr-FR", last_nudged_at=NUDGE_TIME)
        people = [_member(workspace, f"UP{i:03d}") for i in range(30)]
        session.add_all([boss, *people])
        await session.flush()
        session.add(_post(workspace, boss, "News", NUDGE_TIME - timedelta(days=1)))
        await session.commit()
    async with sessions() as session:
        workspace = await session.get_one(Workspace, 1)
        assert await weekly.nudge_round(session, workspace=workspace, now=NUDGE_TIME) == 30
        await session.commit()
    clock = FrozenClock(NUDGE_TIME)
    for _ in range(4):
        await outbox.drain(sessions, notifiers={"slack": recorder}, now=clock.now, limit=10)
        await progress.refresh(sessions, notifiers={"slack": recorder}, now=clock.now())
    first = recorder.sent[0]
    assert (first.kind, first.destination) == (progress.PROGRESS_KIND, "UBOSS")
    assert first.text == "Les rappels de la semaine : remis à 0 / 30…"
    edits = recorder.of_kind(progress.PROGRESS_UPDATE_KIND)
    assert {(edit.destination, edit.payload["message_id"]) for edit in edits} == {("D-UBOSS", "m1")}
    assert [edit.text for edit in edits] == [
        "Les rappels de la semaine : remis à 9 / 30…",
        "Les rappels de la semaine : remis à 19 / 30…",
        "Les rappels de la semaine : remis à 29 / 30…",
        "Les rappels de la semaine : terminé, 30 / 30.",
    ]
    assert len(recorder.of_kind("nudge")) == 30


async def test_progress_edits_hold_no_write_transaction_while_slack_answers(
    sessions: Sessions, engine: AsyncEngine, fake_slack: FakeSlack
) -> None:
    """Two admins follow a big round; Slack is slow to edit their progress messages. While it holds
    each edit, no write is pending on any connection (on SQLite every other write would wait)."""
    async with sessions() as session:
        workspace = await _workspace(session)
        bosses = [
            _member(workspace, boss, is_admin=True, last_nudged_at=NUDGE_TIME) for boss in ("UBOSS", "UCHIEF")
        ]
        people = [_member(workspace, f"UP{i:03d}") for i in range(30)]
        session.add_all([*bosses, *people])
        await session.flush()
        session.add(_post(workspace, bosses[0], "News", NUDGE_TIME - timedelta(days=1)))
        await session.commit()
    for member in (*bosses, *people):
        fake_slack.add_user(member.external_id, is_admin=member.is_admin)
    async with sessions() as session:
        workspace = await session.get_one(Workspace, 1)
        assert await weekly.nudge_round(session, workspace=workspace, now=NUDGE_TIME) == 30
        await session.commit()

    # Whether a write was pending on some connection, each time Slack holds an edit.
    writes_open: list[bool] = []
    fake_slack.delay("chat.update", 0.3)  # Slack is slow today
    try:
        with pending_writes(engine) as write_pending:
            running = asyncio.ensure_future(
                jobs.run_job(_ctx(sessions, _slack(fake_slack), FrozenClock(NUDGE_TIME)), "outbox")
            )
            for count in (1, 2):
                await fake_slack.wait_for_calls("chat.update", count=count)
                writes_open.append(write_pending())
            await running
    finally:
        fake_slack.delay("chat.update", 0)
    assert writes_open == [False, False]
    edited = sorted(str(c.params["channel"]) for c in fake_slack.calls_to("chat.update"))
    assert edited == ["DBOSS", "DCHIEF"]  # each admin's progress message, in their DM
    async with sessions() as session:
        shown = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == progress.PROGRESS_KIND))
        ).all()
    assert [row.payload["done"] for row in shown] == [30, 30]  # recorded: not edited again
    await jobs.run_job(_ctx(sessions, _slack(fake_slack), FrozenClock(NUDGE_TIME)), "outbox")
    assert len(fake_slack.calls_to("chat.update")) == 2


async def test_two_clocks_at_once_send_each_reminder_once(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    await _seed_nudges(sessions)
    clocks = [FrozenClock(NUDGE_TIME + timedelta(minutes=1)) for _ in range(2)]
    await asyncio.gather(*(jobs.run_job(_ctx(sessions, recorder, c), "nudges") for c in clocks))
    await asyncio.gather(*(jobs.run_job(_ctx(sessions, recorder, c), "outbox") for c in clocks))
    dms = recorder.dms()
    assert sorted(dms) == ["UFR", "UMONTH", "UPARIS"]
    assert all(len(texts) == 1 for texts in dms.values())


async def test_a_round_made_ahead_of_time_waits_for_its_own_week_and_never_goes_out_before(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    """`relais jobs run nudges --at` Tuesday, run on the Sunday before: the round is made as on Tuesday
    and its reminders wait for Tuesday (they used to be cancelled as outside working hours)."""
    await _seed_nudges(sessions)
    sunday = FrozenClock(NUDGE_TIME - timedelta(days=2))  # Sunday 29 November, 10:00 in Paris
    ahead = jobs.Context(sessions, {"slack": recorder}, FrozenClock(NUDGE_TIME).now, send_now=sunday.now)
    summary = await jobs.run_job(ahead, "nudges")
    assert summary == "3 reminders; 3 waiting until 2026-12-01 09:00 UTC"
    assert recorder.dms() == {}
    for moment in (sunday.now(), NUDGE_TIME - timedelta(hours=10), NUDGE_TIME - timedelta(seconds=1)):
        await jobs.run_job(jobs.Context(sessions, {"slack": recorder}, FrozenClock(moment).now), "outbox")
        assert recorder.dms() == {}  # not on Sunday, not on Monday, not before Tuesday 10:00
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "nudge"))).all()
        assert {(m.state, m.next_attempt_at) for m in rows} == {(OutboxState.PENDING, NUDGE_TIME)}
    await jobs.run_job(jobs.Context(sessions, {"slack": recorder}, FrozenClock(NUDGE_TIME).now), "outbox")
    assert sorted(recorder.dms()) == ["UFR", "UMONTH", "UPARIS"]


async def test_a_reminder_still_waiting_when_its_week_is_over_is_dropped(
    sessions: Sessions, recorder: RecordingNotifier
) -> None:
    await _seed_nudges(sessions)
    await _make_round(sessions)
    next_monday = FrozenClock(NUDGE_TIME + timedelta(days=6))  # Monday 7 December, 10:00 in Paris
    await jobs.run_job(_ctx(sessions, recorder, next_monday), "outbox")
    assert recorder.dms() == {}
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "nudge"))).all()
        assert {m.state for m in rows} == {OutboxState.CANCELLED}
