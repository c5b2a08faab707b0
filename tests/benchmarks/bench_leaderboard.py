"""Benchmark of the leaderboard at scale: the weekly round against one hand-written SQL aggregate, and
`/relais me` answered on the same data.

    python -m tests.benchmarks.bench_leaderboard [--quick] [--postgres URL] [--repeats 3]

Data: `bot.demo.generate` fills a fresh database (SQLite: a file in the work directory; PostgreSQL: the
database given, whose `public` schema is DROPPED and recreated) with 50,000 members and 1,000,000 shares
and 1,000,000 clicks over the year before `NOW` (`--quick`: 2,000 members, 40,000 of each), once per
database per run; how long that took is printed.

Figure 1, the weekly round: what the clock's `leaderboard` job does for a workspace before it sends
anything (`scheduler.jobs.leaderboard` without its drain): claim the week, compute the board (this
week's points, last week's ranks, streaks, the top post) and enqueue the channel message plus every
participant's private rank, in one transaction, committed. Timed end to end, against one hand-written
SQL statement over the same rows that ranks the same members by the same rules (`HAND_SQL`). Between
runs the claim and the enqueued messages are deleted. The round's ranks must equal the statement's:
checked every run, a mismatch fails the figure.

Figure 2, `/relais me`: signed slash commands from distinct members, one after another, through a real
`relais serve` process; `me` acks at once and answers at the `response_url`, so what is timed is what
the member waits for: from sending the request to the answer arriving at the fake Slack's response_url.
20 commands first are not timed: they load the process and build the points snapshot (`settled_points`,
seconds on this data, once). Each `me` is followed by another member's first `/relais help`, timed the
same way: it reads no points, so its figures are the floor any command has on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.demo import generate
from bot.services import weekly
from bot.services.leaderboard import STREAK_POINTS, STREAK_WEEKS, WEEK
from bot.services.schedules import LEADERBOARD, schedule_of, slot_in_week, week_key
from bot.services.scores import CLICK_CAP, INTENT_POINTS, POSTED_POINTS
from models import JobRun, Member, OutboxMessage, UTCDateTime, Workspace
from tests.benchmarks.report import Figure, Options, median_figure, not_measured
from tests.benchmarks.serving import TEAM, TimedFakeSlack, migrate, percentile, relais_serve

GROUP: Final = "leaderboard"
# A Friday after the leaderboard's default moment (Friday 16:00, the workspace's zone is UTC).
NOW: Final = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
TARGET_RATIO: Final = 1.5
TARGET_P99_MS: Final = 50.0
CHANNEL: Final = "C0NEWS"


@dataclass(frozen=True)
class Size:
    members: int
    shares: int
    clicks: int
    commands: int  # `/relais me` commands timed


FULL: Final = Size(members=50_000, shares=1_000_000, clicks=1_000_000, commands=400)
QUICK: Final = Size(members=2_000, shares=40_000, clicks=40_000, commands=100)

# The week's ranking as a DBA would write it: points per member over the week (a posted share 10, a
# share counted through the personal link 3, counted clicks 1 each, at most 20 per link), a streak bonus
# of 5 per week in a row before it with a counted share (up to 4) for members who shared this week;
# ranked by points, then shares, then who shared first, then member id.
HAND_SQL: Final = f"""
WITH counted_share AS (
    SELECT member_id, status, created_at FROM share
    WHERE workspace_id = :workspace AND (status IN ('posted', 'intent') OR intent_at IS NOT NULL)
),
week_share AS (
    SELECT member_id, COUNT(*) AS shares, MIN(created_at) AS first_at,
           SUM(CASE WHEN status = 'posted' THEN {POSTED_POINTS} ELSE {INTENT_POINTS} END) AS points
    FROM counted_share WHERE created_at >= :start AND created_at < :end
    GROUP BY member_id
),
link_click AS (
    SELECT tracked_link.member_id AS member_id, COUNT(*) AS clicks
    FROM click JOIN tracked_link ON tracked_link.id = click.link_id
    WHERE click.workspace_id = :workspace AND click.counted AND click.at >= :start AND click.at < :end
    GROUP BY click.link_id, tracked_link.member_id
),
week_click AS (
    SELECT member_id, SUM(clicks) AS clicks,
           SUM(CASE WHEN clicks > {CLICK_CAP} THEN {CLICK_CAP} ELSE clicks END) AS points
    FROM link_click GROUP BY member_id
),
history AS (
    SELECT member_id,
           MAX(CASE WHEN created_at >= :back1 THEN 1 ELSE 0 END) AS w1,
           MAX(CASE WHEN created_at >= :back2 AND created_at < :back1 THEN 1 ELSE 0 END) AS w2,
           MAX(CASE WHEN created_at >= :back3 AND created_at < :back2 THEN 1 ELSE 0 END) AS w3,
           MAX(CASE WHEN created_at < :back3 THEN 1 ELSE 0 END) AS w4
    FROM counted_share WHERE created_at >= :back4 AND created_at < :start
    GROUP BY member_id
),
scored AS (
    SELECT everyone.member_id,
           COALESCE(week_share.points, 0) + COALESCE(week_click.points, 0)
           + CASE WHEN week_share.shares > 0 THEN {STREAK_POINTS} * (
                 CASE WHEN history.w1 = 1 THEN 1 + CASE WHEN history.w2 = 1 THEN 1 + CASE WHEN history.w3 = 1
                 THEN 1 + history.w4 ELSE 0 END ELSE 0 END ELSE 0 END) ELSE 0 END AS points,
           COALESCE(week_share.shares, 0) AS shares, week_share.first_at
    FROM (SELECT member_id FROM week_share UNION SELECT member_id FROM week_click) AS everyone
    LEFT JOIN week_share ON week_share.member_id = everyone.member_id
    LEFT JOIN week_click ON week_click.member_id = everyone.member_id
    LEFT JOIN history ON history.member_id = everyone.member_id
)
SELECT member_id, points,
       ROW_NUMBER() OVER (ORDER BY points DESC, shares DESC, first_at ASC NULLS LAST, member_id) AS ranked
FROM scored WHERE points > 0
ORDER BY ranked
"""  # noqa: S608 - constants of the rules only, no input
assert STREAK_WEEKS == 4, "HAND_SQL counts a streak of at most 4 weeks"


async def hand_ranking(engine: AsyncEngine, workspace_id: int, end: datetime) -> list[tuple[int, int, int]]:
    """(member id, points, rank) of every participant of the week before `end`, by `HAND_SQL`."""
    start = end - WEEK
    moments = {"start": start, "end": end, **{f"back{k}": start - WEEK * k for k in range(1, 5)}}
    statement = text(HAND_SQL).bindparams(
        bindparam("workspace", workspace_id),
        *(bindparam(name, value, type_=UTCDateTime()) for name, value in moments.items()),
    )
    async with engine.connect() as connection:
        return [(int(m), int(p), int(r)) for m, p, r in await connection.execute(statement)]


async def run_round(engine: AsyncEngine, workspace_id: int) -> int:
    """The clock's round for the workspace, in its own transaction, committed; how many messages."""
    sessions = db.session_factory(engine)
    async with sessions() as session:
        workspace = await session.get_one(Workspace, workspace_id)
        count = await weekly.leaderboard_round(
            session, workspace=workspace, now=NOW, fallback_channel=CHANNEL
        )
        await session.commit()
    if count is None:
        raise RuntimeError("the leaderboard round was not due")
    return count


async def round_ranking(
    engine: AsyncEngine, workspace_id: int, week: str
) -> tuple[dict[int, tuple[int, int]], int]:
    """What the round enqueued: member id → (points, rank) of each private rank, and the participants
    the channel message counts."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(OutboxMessage.kind, OutboxMessage.payload).where(
                    OutboxMessage.workspace_id == workspace_id,
                    OutboxMessage.dedupe_key.like(f"%:{week}:%"),
                )
            )
        ).all()
    ranks = {
        int(payload["member_id"]): (int(payload["points"]), int(payload["rank"]))
        for kind, payload in rows
        if kind == weekly.RANK_KIND
    }
    boards = [payload for kind, payload in rows if kind == weekly.LEADERBOARD_KIND]
    return ranks, int(boards[0]["participants"]) if boards else -1


async def undo_round(engine: AsyncEngine, workspace_id: int, week: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            delete(OutboxMessage).where(
                OutboxMessage.workspace_id == workspace_id, OutboxMessage.dedupe_key.like(f"%:{week}:%")
            )
        )
        await connection.execute(delete(JobRun).where(JobRun.workspace_id == workspace_id))


def check(
    hand: list[tuple[int, int, int]], ranks: dict[int, tuple[int, int]], participants: int, active: set[int]
) -> str:
    """ "" when the round ranked everyone as the hand-written SQL did, else what differs."""
    expected = {member: (points, rank) for member, points, rank in hand if member in active}
    if participants != len(hand):
        return f"the board counts {participants} participants, the SQL {len(hand)}"
    if ranks != expected:
        wrong = sorted(m for m in expected.keys() | ranks.keys() if ranks.get(m) != expected.get(m))
        sample = [(m, ranks.get(m), expected.get(m)) for m in wrong[:3]]
        return f"{len(wrong)} ranks differ (member, round, SQL): {sample}"
    return ""


async def measure_round(engine: AsyncEngine, workspace_id: int, repeats: int, label: str) -> list[Figure]:
    async with engine.connect() as connection:
        workspace = (await connection.execute(select(Workspace).where(Workspace.id == workspace_id))).one()
        active = set(
            await connection.scalars(
                select(Member.id).where(Member.workspace_id == workspace_id, Member.active.is_(True))
            )
        )
    slot = slot_in_week(schedule_of(Workspace(settings=workspace.settings), LEADERBOARD), NOW)
    week = week_key(NOW)
    round_runs, hand_runs, ratios, problems = [], [], [], []
    participants = 0
    for _ in range(repeats):
        await undo_round(engine, workspace_id, week)
        began = time.perf_counter()
        await run_round(engine, workspace_id)
        round_s = time.perf_counter() - began
        began = time.perf_counter()
        hand = await hand_ranking(engine, workspace_id, slot)
        hand_s = time.perf_counter() - began
        ranks, participants = await round_ranking(engine, workspace_id, week)
        problem = check(hand, ranks, participants, active)
        if problem:
            problems.append(problem)
        round_runs.append(round_s * 1000)
        hand_runs.append(hand_s * 1000)
        ratios.append(round_s / hand_s)
    await undo_round(engine, workspace_id, week)
    note = f"{participants:,} participants ranked; " + (
        f"WRONG: {problems[0]}" if problems else "the round's ranks equal the SQL's"
    )
    ratio = median_figure(
        GROUP, f"weekly round vs hand-written SQL, {label}", ratios, "×",
        comparison="<=", bound=TARGET_RATIO, note=note,
    )  # fmt: skip
    if problems:
        ratio = Figure(
            ratio.group, ratio.name, ratio.value, ratio.unit, ratio.target, False, ratio.runs, note
        )
    return [
        ratio,
        median_figure(
            GROUP, f"weekly round (board + {participants:,} ranks enqueued), {label}", round_runs, "ms"
        ),
        median_figure(GROUP, f"hand-written SQL ranking, {label}", hand_runs, "ms"),
    ]


async def measure_me(url: str, size: Size, repeats: int, label: str) -> list[Figure]:
    """p99 of `/relais me`, from the request to the answer at the response_url, per run."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            members = list(
                (
                    await connection.execute(
                        select(Member.external_id, Member.locale)
                        .where(Member.active.is_(True), Member.opted_out.is_(False))
                        .order_by(Member.id)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    step = max(1, len(members) // (2 * size.commands * repeats + 20))
    chosen = members[::step]
    fake = TimedFakeSlack()
    for external_id, locale in chosen:
        fake.add_user(external_id, locale=locale or "en-US", tz="UTC")
    p99s, p50s, help_p99s, help_p50s, failures = [], [], [], [], 0
    async with fake, relais_serve(url, fake) as served:
        warm, rest = chosen[:20], chosen[20:]
        for external_id, _ in warm:  # imports, caches, connections and the points snapshot, not timed
            _, url_id = await served.command(external_id, "me")
            await asyncio.wait_for(served.expect_answer(url_id), timeout=600)
        for run in range(repeats):
            timings: dict[str, list[float]] = {"me": [], "help": []}
            members_of_run = rest[2 * run * size.commands : 2 * (run + 1) * size.commands]
            for (external_id, _), (other, _) in zip(members_of_run[::2], members_of_run[1::2], strict=True):
                # Another member's first `help` beside each first `me`: it reads nothing, so it is the floor
                # of any command here (the caller looked up, the ack, the answer posted).
                for command, member in (("me", external_id), ("help", other)):
                    began = time.perf_counter()
                    status, url_id = await served.command(member, command)
                    answered = await asyncio.wait_for(served.expect_answer(url_id), timeout=60)
                    if status != 200 or (command == "me" and not _shows_points(fake, url_id)):
                        failures += 1
                    timings[command].append((answered - began) * 1000)
            p99s.append(percentile(timings["me"], 0.99))
            p50s.append(statistics.median(timings["me"]))
            help_p99s.append(percentile(timings["help"], 0.99))
            help_p50s.append(statistics.median(timings["help"]))
    note = f"{size.commands} distinct members a run, one at a time; to the answer at the response_url"
    if failures:
        note += f"; {failures} commands failed or answered without the member's points"
    p99 = median_figure(GROUP, f"/relais me p99, {label}", p99s, "ms", comparison="<=", bound=TARGET_P99_MS,
                        note=note)  # fmt: skip
    if failures:
        p99 = Figure(p99.group, p99.name, p99.value, p99.unit, p99.target, False, p99.runs, note)
    floor = "other members' first `/relais help`, one beside each `me`: no points read, the rest of the path"
    return [
        p99,
        median_figure(GROUP, f"/relais me median, {label}", p50s, "ms"),
        median_figure(GROUP, f"/relais help p99 (floor), {label}", help_p99s, "ms", note=floor),
        median_figure(GROUP, f"/relais help median (floor), {label}", help_p50s, "ms", note=floor),
    ]


def _shows_points(fake: TimedFakeSlack, url_id: str) -> bool:
    answers = fake.responses_to(url_id)
    return len(answers) == 1 and any(ch.isdigit() for ch in str(answers[0].get("text", "")))


async def fill(url: str, size: Size, out: Any) -> tuple[int, float]:
    """Generate the data; the workspace's id and how long it took (seconds)."""
    await asyncio.to_thread(_reset_and_migrate, url)
    engine = db.create_engine(url)
    began = time.perf_counter()
    try:
        workspace_id = await generate.generate(
            engine, workspace=TEAM, members=size.members, shares=size.shares, clicks=size.clicks,
            posts=200, weeks=52, nudged=0.1, now=NOW, seed=12, out=out,
        )  # fmt: skip
        if url.startswith("postgresql"):  # the statistics autovacuum takes soon after a bulk load
            async with engine.begin() as connection:  # committed: ANALYZE rolled back keeps nothing
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return workspace_id, time.perf_counter() - began


def _reset_and_migrate(url: str) -> None:
    if url.startswith("postgresql"):
        asyncio.run(_drop_schema(url))
    asyncio.run(migrate(url))


async def _drop_schema(url: str) -> None:
    engine = db.create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def measure_database(url: str, size: Size, repeats: int, label: str) -> list[Figure]:
    log = io.StringIO()
    workspace_id, took = await fill(url, size, log)
    print(f"{label}: generated {size.members:,} members, {size.shares:,} shares, {size.clicks:,} clicks "
          f"in {took:.0f} s", file=sys.stderr, flush=True)  # fmt: skip
    engine = db.create_engine(url)
    try:
        figures = await measure_round(engine, workspace_id, repeats, label)
    finally:
        await engine.dispose()
    figures += await measure_me(url, size, repeats, label)
    rows = size.shares + size.clicks
    data = f"data: {size.members:,} members, {rows:,} shares and clicks, generated in {took:.0f} s"
    return [
        Figure(
            f.group,
            f.name,
            f.value,
            f.unit,
            f.target,
            f.passed,
            f.runs,
            f"{f.note}; {data}" if f.note else data,
        )
        for f in figures
    ]


def measure(options: Options) -> list[Figure]:
    size = QUICK if options.quick else FULL
    sqlite_url = db.normalize_database_url(f"sqlite:///{options.work_dir / 'bench-leaderboard.db'}")
    Path(options.work_dir / "bench-leaderboard.db").unlink(missing_ok=True)
    figures = asyncio.run(measure_database(sqlite_url, size, options.repeats, "SQLite"))
    if options.postgres_url is None:
        why = "no PostgreSQL database given (--postgres URL)"
        figures += [
            not_measured(
                GROUP, "weekly round vs hand-written SQL, PostgreSQL", "×", f"≤ {TARGET_RATIO:g}×", why
            ),
            not_measured(GROUP, "/relais me p99, PostgreSQL", "ms", f"≤ {TARGET_P99_MS:g}ms", why),
        ]
    else:
        postgres_url = db.normalize_database_url(options.postgres_url)
        figures += asyncio.run(measure_database(postgres_url, size, options.repeats, "PostgreSQL"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        options = Options(args.repeats, args.quick, args.postgres, Path(scratch))
        for figure in measure(options):
            verdict = {True: "pass", False: "FAIL", None: ""}[figure.passed]
            value = "-" if figure.value is None else f"{figure.value:,.3g}{figure.unit}"
            print(f"{figure.name}: {value} (target {figure.target or '-'}) {verdict}  {figure.note}")


if __name__ == "__main__":
    main()
