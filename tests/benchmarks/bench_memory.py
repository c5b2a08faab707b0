"""Benchmark of memory: does `relais serve` (or `relais clock`) keep growing as it works?

    python -m tests.benchmarks.bench_memory [--quick] [--postgres URL] [--repeats 1]

`relais serve`: a real process on 127.0.0.1 against the fake Slack (in this process), on a fresh database
holding a small generated workspace (`bot.demo.generate`: 1,000 members, 10 posts, their shares, links and
clicks). Its resident set size (`VmRSS` of /proc/<pid>/status) is read when **idle**: after a warm-up of
1,000 mixed interactions (so that imports, caches, pools and the after-ack machinery are all loaded) and
once the after-ack work has ended (no new answer at the fake Slack for a second); then again, idle the
same way, after 20,000 more mixed interactions (`--quick`: 300 and 2,000). Growth = after / idle - 1.

The mix, 20 in flight at once, from the 1,000 members in turn: "Share on X" and "Share on LinkedIn"
personal-link clicks, "Not for me", `/relais me`, `/relais leaderboard`, `/relais help`, share links
(`/s/<code>`), tracked links (`/r/<code>`, each visit with its own User-Agent), and the web pages
`/healthz` and `/favicon.ico`. Any 5xx or failed request is counted and fails the figure.

`relais clock`: RSS once it has started, run its jobs once and drained what they enqueued, and a warm-up
of 100 messages sent; then again after 1,000 outbox passes (`--quick`: 200): as many private messages
made due 30 ms apart (each pass of the drainer finds one due, sends it and waits for the next), all sent.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
from sqlalchemy import func, insert, make_url, select, text

from bot import db
from bot.demo import generate
from bot.services import weekly
from models import Member, OutboxMessage, OutboxState, Post, TrackedLink
from tests.benchmarks.report import Figure, Options, median_figure, not_measured
from tests.benchmarks.serving import (
    TEAM,
    Served,
    TimedFakeSlack,
    migrate,
    relais_clock,
    relais_serve,
    rss_kib,
)

GROUP: Final = "memory"
TARGET_GROWTH: Final = 10.0  # %
IN_FLIGHT: Final = 20
MEMBERS: Final = 1_000
PASS_SPACING: Final = timedelta(milliseconds=30)


@dataclass(frozen=True)
class Size:
    warm_up: int
    interactions: int
    clock_warm_up: int
    passes: int


FULL: Final = Size(warm_up=1_000, interactions=20_000, clock_warm_up=100, passes=1_000)
QUICK: Final = Size(warm_up=300, interactions=2_000, clock_warm_up=50, passes=200)


@dataclass(frozen=True)
class World:
    members: list[str]
    posts: list[int]
    codes: list[str]


async def prepare(url: str, work_dir: Path) -> World:
    """A fresh database with a small generated workspace (the fake Slack's team)."""
    database = make_url(url).database
    if url.startswith("sqlite") and database:
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)  # noqa: ASYNC240 - before anything runs
    if url.startswith("postgresql"):
        engine = db.create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await migrate(url)
    engine = db.create_engine(url)
    log = io.StringIO()
    try:
        await generate.generate(
            engine, workspace=TEAM, members=MEMBERS, shares=5_000, clicks=5_000, posts=10, weeks=2,
            nudged=0.0, now=datetime.now(UTC), seed=7, out=log,
        )  # fmt: skip
        async with engine.connect() as connection:
            members = list(
                await connection.scalars(
                    select(Member.external_id).where(Member.active.is_(True)).order_by(Member.id)
                )
            )
            posts = list(await connection.scalars(select(Post.id).order_by(Post.id)))
            codes = list(
                await connection.scalars(select(TrackedLink.code).order_by(TrackedLink.id).limit(2_000))
            )
    finally:
        await engine.dispose()
    return World(members, posts, codes)


def fake_for(world: World) -> TimedFakeSlack:
    fake = TimedFakeSlack()
    fake.add_channel("C0NEWS", "news")
    fake.add_channel("C0GENERAL", "general")
    for external_id in world.members:
        fake.add_user(external_id, locale="en-US", tz="UTC")
    return fake


def interactions(world: World, served: Served) -> Callable[[int], Awaitable[int]]:
    """The i-th interaction of the mix; returns its HTTP status."""
    driver = served.driver

    async def one(i: int) -> int:
        member = world.members[i % len(world.members)]
        post = world.posts[i % len(world.posts)]
        code = world.codes[i % len(world.codes)]
        kind = i % 10
        if kind == 0:
            return (await driver.click(member, "open_share_x", f"{post}:x")).status
        if kind == 1:
            return (await driver.click(member, "open_share_linkedin", f"{post}:linkedin")).status
        if kind == 2:
            return (await driver.click(member, "not_for_me", str(post))).status
        if kind in (3, 4, 5):
            command = {3: "me", 4: "leaderboard", 5: "help"}[kind]
            return (await driver.send_command(member, command)).status
        if kind == 6:
            return (await served.client.get(f"/s/{code}")).status_code
        if kind == 7:
            headers = {"User-Agent": f"Mozilla/5.0 bench-visitor-{i}"}
            return (await served.client.get(f"/r/{code}", headers=headers)).status_code
        if kind == 8:
            return (await served.client.get("/healthz")).status_code
        return (await served.client.get("/favicon.ico")).status_code

    return one


async def run_mix(
    one: Callable[[int], Awaitable[int]], start: int, count: int, statuses: Counter[int]
) -> int:
    """Run interactions start..start+count, `IN_FLIGHT` at once, counting their statuses in `statuses`
    (599: no answer); returns how many failed (5xx or no answer)."""
    failed = 0
    numbers = iter(range(start, start + count))

    async def worker() -> None:
        nonlocal failed
        for i in numbers:
            try:
                status = await one(i)
            except httpx.HTTPError:
                status = 599
            statuses[status] += 1
            if status >= 500:
                failed += 1

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return failed


async def quiet(fake: TimedFakeSlack, *, still: float = 1.0, limit: float = 120.0) -> None:
    """Wait until the fake Slack has received no call nor answer for `still` seconds (after-ack work done)."""
    began = time.monotonic()
    seen = (-1, -1)
    since = time.monotonic()
    while time.monotonic() - began < limit:
        now = (len(fake.calls), len(fake.responses))
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= still:
            return
        await asyncio.sleep(0.1)


async def measure_serve(url: str, size: Size, work_dir: Path, label: str) -> tuple[float, int, int, int, str]:
    """(growth %, idle KiB, after KiB, failed interactions, their statuses)."""
    world = await prepare(url, work_dir)
    fake = fake_for(world)
    async with fake, relais_serve(url, fake) as served:
        one = interactions(world, served)
        statuses: Counter[int] = Counter()
        failed = await run_mix(one, 0, size.warm_up, statuses)
        await quiet(fake)
        idle = rss_kib(served.pid)
        began = time.perf_counter()
        half = size.interactions // 2
        failed += await run_mix(one, size.warm_up, half, statuses)
        await quiet(fake)
        midway = rss_kib(served.pid)  # growing on between midway and the end: a leak, not a warm-up
        failed += await run_mix(one, size.warm_up + half, size.interactions - half, statuses)
        took = time.perf_counter() - began
        await quiet(fake)
        after = rss_kib(served.pid)
    answers = (
        f"{midway / 1024:.1f} MiB after {half:,}; HTTP statuses {dict(sorted(statuses.items()))}, "
        f"{len(fake.responses):,} answers at response_urls"
    )
    print(
        f"{label}: relais serve idle {idle / 1024:.1f} MiB, after {size.interactions:,} interactions "
        f"({took:.0f} s) {after / 1024:.1f} MiB, {failed} failed; {answers}",
        file=sys.stderr,
        flush=True,
    )
    return (after / idle - 1) * 100, idle, after, failed, answers


async def measure_clock(url: str, size: Size, work_dir: Path, label: str) -> tuple[float, int, int, int]:
    """(growth %, start KiB, after KiB, messages sent during the passes)."""
    world = await prepare(url, work_dir)
    fake = fake_for(world)
    async with fake, relais_clock(url, fake) as pid:
        await asyncio.sleep(5)  # its jobs run once at start
        await _sent_all(url, fake)
        await _enqueue(url, world, 0, size.clock_warm_up)
        await _sent_all(url, fake)
        start = rss_kib(pid)
        before = len(fake.calls_to("chat.postMessage"))
        await _enqueue(url, world, size.clock_warm_up, size.passes)
        await _sent_all(url, fake)
        sent = len(fake.calls_to("chat.postMessage")) - before
        after = rss_kib(pid)
    print(
        f"{label}: relais clock {start / 1024:.1f} MiB after start, {after / 1024:.1f} MiB after "
        f"{size.passes:,} passes ({sent:,} messages sent)",
        file=sys.stderr,
        flush=True,
    )
    return (after / start - 1) * 100, start, after, sent


async def _enqueue(url: str, world: World, first: int, count: int) -> None:
    """`count` private rank messages, the first due now and each next one `PASS_SPACING` later."""
    engine = db.create_engine(url)
    at = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for number in range(first, first + count):
        member = world.members[number % len(world.members)]
        due = at + PASS_SPACING * (number - first)
        payload = {"external_id": member, "name": member, "points": 10, "shares": 1, "clicks": 0, "streak": 0,
                   "rank": 1 + number % 50, "previous_rank": None, "participants": 50,
                   "week": f"bench-{number}", "lang": "en", "member_id": 0}  # fmt: skip
        rows.append({"workspace_id": 1, "kind": weekly.RANK_KIND, "destination": member, "payload": payload,
                     "dedupe_key": f"bench-rank:{number}", "state": OutboxState.PENDING, "attempts": 0,
                     "next_attempt_at": due, "created_at": at, "updated_at": at})  # fmt: skip
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(OutboxMessage), rows)
    finally:
        await engine.dispose()


async def _sent_all(url: str, fake: TimedFakeSlack, limit: float = 300.0) -> None:
    """Wait until no message is pending any more (or `limit` seconds), then for the fake to be quiet."""
    engine = db.create_engine(url)
    began = time.monotonic()
    try:
        while time.monotonic() - began < limit:
            async with engine.connect() as connection:
                pending = await connection.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.state == OutboxState.PENDING)
                )
            if not pending:
                break
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    await quiet(fake, still=0.5)


def _figures(
    label: str,
    serve: list[tuple[float, int, int, int, str]],
    clock: list[tuple[float, int, int, int]],
    size: Size,
) -> list[Figure]:
    failed = sum(run[3] for run in serve)
    serve_note = (
        f"idle after {size.warm_up:,} interactions {serve[-1][1] / 1024:.1f} MiB, "
        f"after {size.interactions:,} more {serve[-1][2] / 1024:.1f} MiB; {serve[-1][4]}"
    )
    if failed:
        serve_note += f"; {failed} interactions failed (5xx or no answer)"
    serve_figure = median_figure(
        GROUP, f"relais serve RSS growth over {size.interactions:,} interactions, {label}",
        [run[0] for run in serve], "%", comparison="<=", bound=TARGET_GROWTH, note=serve_note,
    )  # fmt: skip
    if failed:
        serve_figure = Figure(serve_figure.group, serve_figure.name, serve_figure.value, serve_figure.unit,
                              serve_figure.target, False, serve_figure.runs, serve_note)  # fmt: skip
    clock_note = (
        f"after start {clock[-1][1] / 1024:.1f} MiB, after the passes {clock[-1][2] / 1024:.1f} MiB "
        f"({clock[-1][3]:,} messages sent)"
    )
    clock_figure = median_figure(
        GROUP, f"relais clock RSS growth over {size.passes:,} outbox passes, {label}",
        [run[0] for run in clock], "%", comparison="<=", bound=TARGET_GROWTH, note=clock_note,
    )  # fmt: skip
    return [serve_figure, clock_figure]


async def _measure_database(url: str, size: Size, repeats: int, work_dir: Path, label: str) -> list[Figure]:
    serve = [await measure_serve(url, size, work_dir, label) for _ in range(repeats)]
    clock = [await measure_clock(url, size, work_dir, label) for _ in range(repeats)]
    return _figures(label, serve, clock, size)


def measure(options: Options) -> list[Figure]:
    size = QUICK if options.quick else FULL
    path = options.work_dir / "bench-memory.db"
    sqlite_url = db.normalize_database_url(f"sqlite:///{path}")

    path.unlink(missing_ok=True)
    figures = asyncio.run(_measure_database(sqlite_url, size, options.repeats, options.work_dir, "SQLite"))
    if options.postgres_url is None:
        why = "no PostgreSQL database given (--postgres URL)"
        figures += [
            not_measured(GROUP, "relais serve RSS growth, PostgreSQL", "%", f"≤ {TARGET_GROWTH:g}%", why),
            not_measured(GROUP, "relais clock RSS growth, PostgreSQL", "%", f"≤ {TARGET_GROWTH:g}%", why),
        ]
    else:
        postgres_url = db.normalize_database_url(options.postgres_url)
        figures += asyncio.run(
            _measure_database(postgres_url, size, options.repeats, options.work_dir, "PostgreSQL")
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        options = Options(args.repeats, args.quick, args.postgres, Path(scratch))
        for figure in measure(options):
            verdict = {True: "pass", False: "FAIL", None: ""}[figure.passed]
            value = "-" if figure.value is None else f"{figure.value:,.3g}{figure.unit}"
            print(f"{figure.name}: {value} (target {figure.target or '-'}) {verdict}  {figure.note}")


if __name__ == "__main__":
    main()
