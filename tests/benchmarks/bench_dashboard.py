"""Benchmark of the admins' dashboard figures (`bot.services.analytics.dashboard`, what `GET /admin` reads).

    python -m tests.benchmarks.bench_dashboard --database-url URL [--generate] [--runs 3]

With `--generate`, first fills the database with `bot.demo.generate` (50,000 members, 1,000,000 shares,
1,000,000 clicks by default; PostgreSQL: give an empty database of your own). Then times the dashboard of
the generated workspace for each period (4, 12, 52 weeks), for all networks and channels, one network, and
one channel, and prints the best and the worst of `--runs` runs (the aggregates built once first, timed
on their own: the first look at a dashboard after an upgrade). Not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import select

from bot import db
from bot.demo import generate
from bot.services import analytics
from models import Network, Workspace

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def measure(url: str, runs: int) -> None:
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            workspace_id = await session.scalar(
                select(Workspace.id).where(Workspace.external_id == "TGENERATED")
            )
        assert workspace_id is not None, "no generated workspace: run with --generate"
        began = time.perf_counter()
        async with sessions() as session:
            await analytics.refresh(session, workspace_id=workspace_id, now=NOW)
            await session.commit()
        print(f"first refresh (aggregates every week): {time.perf_counter() - began:.3f} s", flush=True)
        later = NOW + analytics.FRESH + analytics.SETTLE
        began = time.perf_counter()
        async with sessions() as session:
            await analytics.refresh(session, workspace_id=workspace_id, now=later)
            await session.commit()
        print(
            f"refresh {analytics.FRESH} later (the current week rebuilt): {time.perf_counter() - began:.3f} s"
        )
        for weeks in analytics.PERIODS:
            for network, channel in ((None, None), (Network.LINKEDIN, None), (None, "C0NEWS")):
                scope = analytics.Scope(workspace_id, weeks, later, network=network, channel=channel)
                timings = []
                for _ in range(runs):
                    began = time.perf_counter()
                    async with sessions() as session:
                        found = await analytics.dashboard(session, scope)
                    timings.append(time.perf_counter() - began)
                shares = sum(sum(week.shares.values()) for week in found.weeks)
                clicks = sum(sum(week.clicks.values()) for week in found.weeks)
                print(
                    f"{weeks:>2} weeks network={network or '-':8} channel={channel or '-':7} "
                    f"shares={shares:>9,} clicks={clicks:>9,} posts={len(found.posts):>3} "
                    f"best {min(timings):.3f} s, worst {max(timings):.3f} s",
                    flush=True,
                )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = db.normalize_database_url(args.database_url)
    if args.generate:
        generate.main(["--database-url", url, "--now", NOW.isoformat()])
    asyncio.run(measure(url, args.runs))


if __name__ == "__main__":
    main()
