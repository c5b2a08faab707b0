"""`relais jobs list` and `relais jobs run <job> [--at]`, as operators run them, and clock leadership."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from handlers.slack.notifier import SlackNotifier
from models import Delivery, Network, Post, PostState, SocialAccount, SocialAccountStatus
from scheduler import jobs
from scheduler.clock import _lead
from scheduler.leader import LOCK_KEY, lead, leadership
from tests.bot.test_cli import RELAIS, _environment, assert_one_line_error, relais
from tests.conftest import BOT_TOKEN, TEST_DATABASE_URL
from tests.scheduler.test_publish import seed
from tests.scheduler.test_weekly import BOARD_TIME, _member, _post, _seed_board, _workspace

# Rows these tests write themselves are stamped with a fixed time (there is no wall-clock default).
CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


async def _relais(*args: str, **variables: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        RELAIS,
        *args,
        env=_environment(**variables),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_jobs_run_sends_the_leaderboard_once_and_jobs_list_shows_it(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C0NEWS", "news")
    env = {
        "DATABASE_URL": empty_database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": fake_slack.api_url,
    }
    assert (await _relais("migrate", **env))[0] == 0
    code, out, _ = await _relais("jobs", "list", **env)
    assert code == 0
    for job in ("publish", "nudges", "leaderboard", "connection-warnings", "outbox"):
        assert job in out
    engine = db.create_engine(empty_database_url)
    try:
        await _seed_board(db.session_factory(engine))
    finally:
        await engine.dispose()

    early = (BOARD_TIME - timedelta(hours=1)).isoformat()
    code, out, err = await _relais("jobs", "run", "leaderboard", "--at", early, **env)
    assert code == 0, err
    assert "0 leaderboard messages" in out  # not its moment yet
    on_time = BOARD_TIME.isoformat()
    code, out, err = await _relais("jobs", "run", "leaderboard", "--at", on_time, **env)
    assert code == 0, err
    assert "4 leaderboard messages" in out
    recipients = sorted(str(c.params["channel"]) for c in fake_slack.calls_to("chat.postMessage"))
    assert recipients == ["C0NEWS", "UANA", "UBEN", "UCLEO"]
    code, out, _ = await _relais("jobs", "run", "leaderboard", "--at", on_time, **env)
    assert "0 leaderboard messages" in out  # the period is done
    assert len(fake_slack.calls_to("chat.postMessage")) == 4

    code, out, _ = await _relais("jobs", "list", **env)
    line = next(line for line in out.splitlines() if line.startswith("leaderboard"))
    assert line.split()[1] != "-"  # its last run (the real time it ran, not the --at time)
    assert BOARD_TIME.isoformat(timespec="seconds") not in line


def _env(database_url: str, fake_slack: FakeSlack) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": fake_slack.api_url,
    }


async def test_jobs_run_publish_at_a_later_time_pushes_what_is_due_then_before_exiting(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    """The command runs on the real clock: the post is scheduled two days after it, and --at three."""
    fake_slack.add_channel("C0NEWS", "news")
    env = _env(empty_database_url, fake_slack)
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    try:
        await seed(sessions)
        real = datetime.now(UTC)
        async with sessions() as session:
            post = await session.get_one(Post, 1)
            post.publish_at = real + timedelta(days=2)
            await session.commit()
        code, out, err = await _relais(
            "jobs", "run", "publish", "--at", (real + timedelta(days=1)).isoformat(), **env
        )
        assert code == 0, err
        assert fake_slack.calls_to("chat.postMessage") == []  # not due yet at --at
        code, out, err = await _relais(
            "jobs", "run", "publish", "--at", (real + timedelta(days=3)).isoformat(), **env
        )
        assert code == 0, err
        assert "([1], [])" in out
        pushed = fake_slack.calls_to("chat.postMessage")  # sent before the command exited
        assert [c.params["channel"] for c in pushed] == ["C0NEWS"]
        async with sessions() as session:
            post = await session.get_one(Post, 1)
            assert post.state is PostState.PUBLISHED
            assert post.published_at is not None
            assert post.published_at <= datetime.now(UTC)  # published when it went out, not dated ahead
            delivery = (await session.scalars(select(Delivery).where(Delivery.post_id == 1))).one()
            assert delivery.destination == "C0NEWS"
    finally:
        await engine.dispose()


async def test_jobs_run_waits_for_what_the_pacing_holds_back_before_exiting(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    """Five posts due at once into one channel: three go at once, the other two a second apart, all
    before the command exits, and Slack (enforcing its limit on the real clock) refuses none."""
    fake_slack.add_channel("C0NEWS", "news")
    fake_slack.limit_channel_rate(burst=3, per_second=1.0)
    env = _env(empty_database_url, fake_slack)
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    try:
        await seed(sessions)
        real = datetime.now(UTC)
        async with sessions() as session:
            first = await session.get_one(Post, 1)
            first.publish_at = real - timedelta(minutes=1)
            for i in range(4):
                session.add(
                    Post(
                        workspace_id=first.workspace_id,
                        url=f"https://example.com/more-{i}",
                        title=f"More {i}",
                        networks=["x"],
                        channels=["C0NEWS"],
                        state=PostState.SCHEDULED,
                        publish_at=real - timedelta(minutes=1),
                        created_by_id=first.created_by_id,
                        created_at=CREATED,
                        updated_at=CREATED,
                    )
                )
            await session.commit()
        code, _, err = await _relais("jobs", "run", "publish", **env)
        assert code == 0, err
        assert len(fake_slack.messages["C0NEWS"]) == 5
        assert fake_slack.limited == 0
        async with sessions() as session:
            pushed = await session.scalars(select(Delivery.post_id).where(Delivery.post_id != 2))  # 2: seeded
            assert sorted(pushed.all()) == [1, 3, 4, 5, 6]
    finally:
        await engine.dispose()


async def test_jobs_run_connection_warnings_at_a_later_time_warns_before_exiting(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    """A LinkedIn connection ending in 20 days (real clock): run as if 15 days later, the member is told
    before the command exits."""
    fake_slack.add_user("UANA")
    env = _env(empty_database_url, fake_slack)
    assert (await _relais("migrate", **env))[0] == 0
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    real = datetime.now(UTC)
    try:
        async with sessions() as session:
            workspace = await _workspace(session)
            member = _member(workspace, "UANA")
            session.add(member)
            await session.flush()
            session.add(
                SocialAccount(
                    workspace_id=workspace.id,
                    member_id=member.id,
                    network=Network.LINKEDIN,
                    external_person_id="li-ana",
                    access_token_encrypted="unused",
                    expires_at=real + timedelta(days=20),
                    status=SocialAccountStatus.CONNECTED,
                    created_at=CREATED,
                    updated_at=CREATED,
                )
            )
            await session.commit()
        at = (real + timedelta(days=15)).isoformat()
        code, out, err = await _relais("jobs", "run", "connection-warnings", "--at", at, **env)
        assert code == 0, err
        assert "1 warnings" in out
        assert [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")] == ["UANA"]
        async with sessions() as session:
            account = (await session.scalars(select(SocialAccount))).one()
            assert account.expiry_warned_at is not None
            assert account.expiry_warned_at <= datetime.now(UTC)
    finally:
        await engine.dispose()


async def test_jobs_run_nudges_ahead_of_time_says_they_wait_and_they_go_out_at_the_round_s_time(
    empty_database_url: str, fake_slack: FakeSlack
) -> None:
    """Run now (on the real clock) for next week's Tuesday, 10:00 in Paris: nothing goes out now, the
    command says how many wait and until when, and the clock's outbox sends them at that moment."""
    env = _env(empty_database_url, fake_slack)
    assert (await _relais("migrate", **env))[0] == 0
    paris = ZoneInfo("Europe/Paris")
    today = datetime.now(paris).date()
    tuesday = today + timedelta(days=7 - today.weekday() + 1)
    at = datetime.combine(tuesday, time(10, 0), tzinfo=paris)
    fake_slack.add_user("UPARIS")
    engine = db.create_engine(empty_database_url)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            workspace = await _workspace(session)
            member = _member(workspace, "UPARIS")
            session.add(member)
            await session.flush()
            session.add(_post(workspace, member, "Fresh", at - timedelta(days=1)))
            await session.commit()
        code, out, err = await _relais("jobs", "run", "nudges", "--at", at.isoformat(), **env)
        assert code == 0, err
        until = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        assert f"1 reminders; 1 waiting until {until} UTC" in out
        assert fake_slack.calls_to("chat.postMessage") == []
        notifier = SlackNotifier(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))
        for moment in (at - timedelta(minutes=1), at):
            await jobs.run_job(jobs.Context(sessions, {"slack": notifier}, FrozenClock(moment).now), "outbox")
        assert [c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")] == ["UPARIS"]
    finally:
        await engine.dispose()


def test_jobs_run_refuses_an_unknown_job() -> None:
    result = relais("jobs", "run", "coffee")
    assert result.returncode == 2
    assert "invalid choice: 'coffee'" in result.stderr
    assert_one_line_error(relais("jobs", "run", "nudges", "--at", "next tuesday"), "not a time")


async def test_one_clock_leads_and_another_takes_over_when_it_stops(engine: AsyncEngine) -> None:
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    led: list[str] = []

    async def clock(name: str, stop: asyncio.Event, hold: asyncio.Event) -> None:
        async with leadership(engine, stop, retry=0.05, heartbeat=0.05) as leading:
            if leading:
                led.append(name)
                await hold.wait()

    release_first = asyncio.Event()
    first = asyncio.create_task(clock("first", stop_first, release_first))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(clock("second", stop_second, asyncio.Event()))
    await asyncio.sleep(0.3)
    assert led == ["first"]  # the second one stands by
    release_first.set()  # the leader stops (or dies): its lock goes with it
    await first
    for _ in range(100):
        if led == ["first", "second"]:
            break
        await asyncio.sleep(0.02)
    assert led == ["first", "second"]
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    # A clock asked to stop while standing by never leads.
    stopped = asyncio.Event()
    stopped.set()
    async with leadership(engine, stopped, retry=0.05) as leading:
        assert leading is None


@pytest.mark.skipif(TEST_DATABASE_URL is None, reason="the advisory lock is PostgreSQL's")
async def test_a_leader_whose_connection_drops_stops_leading_and_two_never_lead_at_once(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leader's backend is killed (as a failover or a restarted server would) while a long job runs
    (one that takes no notice of the loss): it stops leading, job included, and one of the two (the
    standby, or the first once it holds the lock again) leads; twice over. At no moment do two clocks
    lead, nor run a job."""
    stop = asyncio.Event()
    leading: set[str] = set()
    terms: list[str] = []
    overlaps: list[set[str]] = []
    abandoned: list[str] = []

    async def long_job(ctx: jobs.Context) -> str:
        name = str(ctx.fallback_channel)
        running.add(name)
        if len(running) > 1:
            overlaps.append(set(running))
        try:
            await stop.wait()  # a job that takes longer than a takeover
        finally:
            running.discard(name)
        return "done"

    running: set[str] = set()
    monkeypatch.setattr(jobs, "JOBS", {"long": jobs.Job("long", long_job, 3600, "a long job")})
    sessions = db.session_factory(engine)
    notifier = SlackNotifier(AsyncWebClient(token=BOT_TOKEN, base_url="http://127.0.0.1:9/"))

    def clock(name: str) -> Callable[[asyncio.Event], Awaitable[None]]:
        ctx = jobs.Context(
            sessions=sessions,
            notifiers={"slack": notifier},
            now=lambda: datetime.now(UTC),
            fallback_channel=name,
        )

        async def work(ended: asyncio.Event) -> None:
            if leading:
                overlaps.append({*leading, name})
            leading.add(name)
            terms.append(name)
            try:
                await _lead(ctx, ended)  # the clock's own leadership term: its scheduler and jobs
            finally:
                leading.discard(name)

        return work

    async def kill_the_leader() -> None:
        async with engine.connect() as connection:
            killed = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND objid = :low"
                ),
                {"low": LOCK_KEY & 0xFFFFFFFF},
            )
            assert killed == 1

    async def until(check: Callable[[], bool]) -> None:
        for _ in range(500):
            if check():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"not in time: leading {leading}, running {running}, terms {terms}")

    def abandon(name: str) -> Callable[[], None]:
        return lambda: abandoned.append(name)  # instead of ending the test's process

    options = {"retry": 0.05, "heartbeat": 0.2}
    first = asyncio.create_task(lead(engine, stop, clock("first"), abandon=abandon("first"), **options))
    await until(lambda: terms == ["first"] and running == {"first"})
    second = asyncio.create_task(lead(engine, stop, clock("second"), abandon=abandon("second"), **options))
    await asyncio.sleep(1)
    assert terms == ["first"]  # the second stands by
    for term in (2, 3):
        await kill_the_leader()
        await until(functools.partial(lambda n: len(terms) == n and len(running) == 1, term))
    stop.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert overlaps == []
    assert abandoned == []
    assert leading == set()
    assert running == set()


@pytest.mark.skipif(TEST_DATABASE_URL is None, reason="the advisory lock is PostgreSQL's")
async def test_a_leader_whose_work_does_not_stop_when_its_lock_drops_is_abandoned_before_a_takeover(
    engine: AsyncEngine,
) -> None:
    """Work that ignores its cancellation cannot keep a clock leading: `abandon` (by default, ending
    the process) is called within half a heartbeat of the loss noticed, before a standby could lead."""
    stop, release = asyncio.Event(), asyncio.Event()
    abandoned: list[float] = []
    loop = asyncio.get_running_loop()

    async def stubborn(ended: asyncio.Event) -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    heartbeat = 0.5
    first = asyncio.create_task(
        lead(
            engine,
            stop,
            stubborn,
            retry=0.05,
            heartbeat=heartbeat,
            abandon=lambda: abandoned.append(loop.time()),
        )
    )
    await asyncio.sleep(4 * heartbeat)  # it leads (after three heartbeats)
    async with engine.connect() as connection:
        killed_at = loop.time()
        await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted AND objid = :low"
            ),
            {"low": LOCK_KEY & 0xFFFFFFFF},
        )
    for _ in range(300):
        if abandoned:
            break
        await asyncio.sleep(0.01)
    # Noticed within two heartbeats, abandoned half a heartbeat later: before a new leader's three.
    assert abandoned
    assert abandoned[0] - killed_at < 3 * heartbeat
    release.set()
    stop.set()
    await asyncio.wait_for(first, 5)
