"""A workspace full of plausible activity, for measuring the dashboard and showing it off.

    python -m bot.demo.generate --database-url URL [--members 50000] [--shares 1000000]
        [--clicks 1000000] [--posts 200] [--weeks 52] [--nudged 0.1] [--now 2026-11-25T09:00Z]

Migrates the database to the head revision, then adds one Slack workspace (`TGENERATED`, or
`--workspace`) with its members, published posts pushed to two channels, shares (one per member × post ×
network, most counted, some failed or pending), one tracked link per share, counted and uncounted clicks on
those links, "Not for me" answers, and sent weekly nudges listing posts. Times spread over the `--weeks`
weeks before `--now`. Random but repeatable (`--seed`). Rows go in by bulk inserts, not through the app:
this is data, not behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db, migrate
from bot.services.shared_marks import NUDGE_KIND
from models import (
    Click,
    Delivery,
    Dismissal,
    Member,
    Network,
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

BATCH: Final = 5_000
CHANNELS: Final = ("C0NEWS", "C0GENERAL")
NETWORKS: Final = (Network.LINKEDIN, Network.X)
SHARING: Final = timedelta(weeks=3)  # shares come in the weeks after a post is published
CLICKING: Final = timedelta(weeks=4)


def _batches(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _insert(engine: AsyncEngine, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    for batch in _batches(rows):
        async with engine.begin() as connection:
            await connection.execute(insert(table), batch)
        count += len(batch)
    return count


async def _ids(engine: AsyncEngine, column: Any, workspace_id: int) -> list[int]:
    async with engine.connect() as connection:
        table = column.table
        found = await connection.scalars(
            select(column).where(table.c.workspace_id == workspace_id).order_by(column)
        )
        return list(found.all())


async def generate(
    engine: AsyncEngine,
    *,
    workspace: str,
    members: int,
    shares: int,
    clicks: int,
    posts: int,
    weeks: int,
    nudged: float,
    now: datetime,
    seed: int,
    out: Any = sys.stdout,
) -> int:
    """Add the workspace and its activity; returns its id."""
    rng = random.Random(seed)  # noqa: S311 - repeatable made-up data, no secret
    start = now - timedelta(weeks=weeks)
    span = (now - start).total_seconds()

    def moment(after: datetime = start, within: timedelta | None = None) -> datetime:
        """A time after `after` (within `within` of it, if given), before `now`."""
        lower = (after - start).total_seconds()
        upper = min(span, lower + within.total_seconds()) if within is not None else span
        return start + timedelta(seconds=rng.uniform(lower, upper))

    def say(what: str, count: int, began: float) -> None:
        print(f"{what}: {count:,} rows in {time.perf_counter() - began:.1f} s", file=out, flush=True)

    async with engine.begin() as connection:
        workspace_id = int(
            (
                await connection.execute(
                    insert(Workspace).returning(Workspace.id),
                    {"platform": Platform.SLACK.value, "external_id": workspace, "name": "Generated",
                     "timezone": "UTC", "settings": {}, "created_at": start, "updated_at": start},
                )
            ).scalar_one()
        )  # fmt: skip

    began = time.perf_counter()
    member_rows = (
        {"workspace_id": workspace_id, "external_id": f"U{number:08d}", "display_name": f"Member {number}",
         "locale": rng.choice(("en-US", "fr-FR")), "is_admin": number == 0, "opted_out": rng.random() < 0.03,
         "active": rng.random() > 0.02, "nudges_unanswered": 0,
         "created_at": start - timedelta(days=rng.uniform(1, 365)), "updated_at": start}
        for number in range(members)
    )  # fmt: skip
    say("members", await _insert(engine, Member.__table__, member_rows), began)
    member_ids = await _ids(engine, Member.__table__.c.id, workspace_id)

    began = time.perf_counter()
    published: list[datetime] = sorted(moment() for _ in range(posts))
    post_rows = (
        {"workspace_id": workspace_id, "url": f"https://acme.example/news/{number}",
         "title": f"News {number}", "captions": [f"Caption {number}a", f"Caption {number}b"],
         "networks": [network.value for network in NETWORKS], "channels": [CHANNELS[number % 2]],
         "state": PostState.PUBLISHED.value, "published_at": at, "publish_at": at,
         "created_at": at, "updated_at": at}
        for number, at in enumerate(published)
    )  # fmt: skip
    say("posts", await _insert(engine, Post.__table__, post_rows), began)
    post_ids = await _ids(engine, Post.__table__.c.id, workspace_id)
    when = dict(zip(post_ids, published, strict=True))
    deliveries = (
        {"workspace_id": workspace_id, "post_id": post_id, "destination": CHANNELS[number % 2],
         "message_id": f"{number}.000100", "created_at": when[post_id], "updated_at": when[post_id]}
        for number, post_id in enumerate(post_ids)
    )  # fmt: skip
    await _insert(engine, Delivery.__table__, deliveries)

    # Shares: distinct (member, post, network) triples, in the three weeks after the post's publication.
    began = time.perf_counter()
    triples: set[tuple[int, int, Network]] = set()
    while len(triples) < shares:
        triples.add((rng.choice(member_ids), rng.choice(post_ids), rng.choice(NETWORKS)))
    ordered = sorted(triples)
    statuses = (ShareStatus.POSTED,) * 6 + (ShareStatus.INTENT,) * 3 + (ShareStatus.FAILED,)

    def share_rows() -> Iterator[dict[str, Any]]:
        for member_id, post_id, network in ordered:
            at = moment(when[post_id], SHARING)
            status = rng.choice(statuses)
            yield {"workspace_id": workspace_id, "member_id": member_id, "post_id": post_id,
                   "network": network.value, "status": status.value, "caption": f"Caption {post_id}",
                   "attempts": 1, "posted_at": at if status == ShareStatus.POSTED else None,
                   "intent_at": at if status == ShareStatus.INTENT else None,
                   "created_at": at, "updated_at": at}  # fmt: skip

    say("shares", await _insert(engine, Share.__table__, share_rows()), began)

    began = time.perf_counter()
    link_rows = (
        {"workspace_id": workspace_id, "code": secrets.token_urlsafe(12), "post_id": post_id,
         "member_id": member_id, "network": network.value, "created_at": when[post_id]}
        for member_id, post_id, network in ordered
    )  # fmt: skip
    say("tracked links", await _insert(engine, TrackedLink.__table__, link_rows), began)
    async with engine.connect() as connection:
        links: Sequence[Any] = (
            await connection.execute(
                select(TrackedLink.id, TrackedLink.post_id).where(TrackedLink.workspace_id == workspace_id)
            )
        ).all()

    began = time.perf_counter()

    def click_rows() -> Iterator[dict[str, Any]]:
        for number in range(clicks):
            link_id, post_id = rng.choice(links)
            at = moment(when[post_id], CLICKING)
            yield {"workspace_id": workspace_id, "link_id": link_id, "at": at,
                   "hour": at.replace(minute=0, second=0, microsecond=0), "counted": rng.random() > 0.05,
                   "visitor": f"v{number}"}  # fmt: skip

    say("clicks", await _insert(engine, Click.__table__, click_rows()), began)

    began = time.perf_counter()
    dismissed = {(rng.choice(member_ids), rng.choice(post_ids)) for _ in range(shares // 50)}
    dismissal_rows = (
        {"workspace_id": workspace_id, "member_id": member_id, "post_id": post_id,
         "created_at": moment(when[post_id], SHARING)}
        for member_id, post_id in dismissed
    )  # fmt: skip
    say("not for me", await _insert(engine, Dismissal.__table__, dismissal_rows), began)

    # Weekly nudges, sent: each week a share `nudged` of the members get one listing the week's posts.
    began = time.perf_counter()

    def nudge_rows() -> Iterator[dict[str, Any]]:
        for week in range(weeks):
            monday = start + timedelta(weeks=week)
            listed = [
                post_id for post_id in post_ids if monday - timedelta(weeks=1) <= when[post_id] < monday
            ]
            if not listed:
                continue
            payload = {"posts": [{"id": post_id, "title": f"News {post_id}"} for post_id in listed[:3]]}
            for number, member_id in enumerate(member_ids):
                if rng.random() >= nudged:
                    continue
                sent = monday + timedelta(hours=9)
                yield {"workspace_id": workspace_id, "kind": NUDGE_KIND, "destination": f"U{number:08d}",
                       "dedupe_key": f"nudge:{monday.date().isoformat()}:{member_id}", "payload": payload,
                       "state": OutboxState.SENT.value, "attempts": 1, "next_attempt_at": sent,
                       "sent_at": sent, "created_at": sent, "updated_at": sent}  # fmt: skip

    say("nudges", await _insert(engine, OutboxMessage.__table__, nudge_rows()), began)
    return workspace_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.demo.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workspace", default="TGENERATED")
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--shares", type=int, default=1_000_000)
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--nudged", type=float, default=0.1, help="share of members nudged each week")
    parser.add_argument("--now", type=datetime.fromisoformat, default=datetime.now(UTC))
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    if args.now.tzinfo is None:
        parser.error("--now needs a time zone, e.g. 2026-11-25T09:00+00:00")
    url = db.normalize_database_url(args.database_url)
    migrate.upgrade(url)

    async def run() -> None:
        engine = db.create_engine(url)
        try:
            await generate(
                engine, workspace=args.workspace, members=args.members, shares=args.shares,
                clicks=args.clicks, posts=args.posts, weeks=args.weeks, nudged=args.nudged,
                now=args.now.astimezone(UTC), seed=args.seed,
            )  # fmt: skip
        finally:
            await engine.dispose()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
