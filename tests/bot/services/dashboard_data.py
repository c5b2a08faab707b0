"""A small workspace's month of advocacy whose dashboard figures are worked out by hand (see `seed`), for
the data layer's tests and the `/admin` pages' tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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

# Wednesday: the current week starts on Monday 2026-11-23 (UTC).
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def at(day: int, hour: int = 12, month: int = 11, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Seeded:
    workspace_id: int
    news: int  # post P1, pushed to C0NEWS
    launch: int  # post P2, pushed to C0GENERAL, its title a formula
    elsewhere: int  # a post of another workspace


async def seed(session: AsyncSession, *, workspace_id: int) -> Seeded:
    """In `workspace_id`: members Bob, Carla, Dan (who left) and Eve (joined 2026-11-18); posts P1
    (C0NEWS) and P2 (C0GENERAL, titled `=HYPERLINK(...)`), and in another workspace (T2) a post and a
    share that must never show.

    Shares (✓ counted): Bob P1 LinkedIn posted 11-24 ✓, Bob P1 X intent 11-17 ✓, Carla P1 LinkedIn
    failed 11-24, Carla P2 X failed after her personal link counted it 11-10 ✓, Bob P2 LinkedIn posted
    at Monday 11-23 00:00:00 ✓, Bob P2 X pending 11-22 23:59:59, and Carla P1 X posted 2026-10-01 ✓
    (in 12 weeks, not in 4).
    Clicks: on Bob's P1 LinkedIn link 3 counted (11-23, 11-24, 11-25) and 1 not; on Carla's P2 X link
    2 counted (11-10, Monday 11-16 00:00). Not for me: Dan on P1 (11-20). Nudges sent: to Bob and
    Carla listing P1 (11-16), to Carla listing P1 and P2 (11-23); pending to Dan listing P1."""
    other = Workspace(platform=Platform.SLACK, external_id="T2", name="Other", created_at=LONG_AGO,
                      updated_at=LONG_AGO)  # fmt: skip
    session.add(other)
    await session.flush()

    def member(
        workspace: int, external: str, name: str, *, since: datetime = LONG_AGO, active: bool = True
    ) -> Member:
        return Member(workspace_id=workspace, external_id=external, display_name=name, created_at=since,
                      updated_at=since, active=active)  # fmt: skip

    bob, carla = member(workspace_id, "UBOB", "Bob"), member(workspace_id, "UCARLA", "Carla")
    dan = member(workspace_id, "UDAN", "Dan", active=False)
    eve = member(workspace_id, "UEVE", "Eve", since=at(18))
    stranger = member(other.id, "USTRANGER", "Stranger")
    session.add_all([bob, carla, dan, eve, stranger])

    def post(workspace: int, url: str, title: str) -> Post:
        return Post(workspace_id=workspace, url=url, title=title, state=PostState.PUBLISHED,
                    captions=["Proud of this"], networks=["linkedin", "x"], published_at=at(2, month=9),
                    created_at=at(1, month=9), updated_at=at(1, month=9))  # fmt: skip

    news = post(workspace_id, "https://acme.example/news", "Acme news")
    launch = post(workspace_id, "https://acme.example/launch", '=HYPERLINK("https://evil.example","Launch")')
    elsewhere = post(other.id, "https://other.example/", "Elsewhere")
    session.add_all([news, launch, elsewhere])
    await session.flush()
    session.add_all(
        Delivery(workspace_id=workspace_id, post_id=post_id, destination=channel, message_id=f"{post_id}.1",
                 created_at=at(2, 10, month=9), updated_at=at(2, 10, month=9))
        for post_id, channel in ((news.id, "C0NEWS"), (launch.id, "C0GENERAL"))
    )  # fmt: skip

    def share(
        who: Member,
        what: Post,
        network: Network,
        status: ShareStatus,
        when: datetime,
        *,
        intent: bool = False,
    ) -> Share:
        return Share(workspace_id=who.workspace_id, member_id=who.id, post_id=what.id, network=network,
                     status=status, caption="Proud of this" if network is Network.LINKEDIN else None,
                     intent_at=when if intent or status is ShareStatus.INTENT else None,
                     created_at=when, updated_at=when)  # fmt: skip

    session.add_all(
        [
            share(bob, news, Network.LINKEDIN, ShareStatus.POSTED, at(24)),
            share(bob, news, Network.X, ShareStatus.INTENT, at(17)),
            share(carla, news, Network.LINKEDIN, ShareStatus.FAILED, at(24)),
            share(carla, launch, Network.X, ShareStatus.FAILED, at(10), intent=True),
            share(bob, launch, Network.LINKEDIN, ShareStatus.POSTED, at(23, 0)),
            share(bob, launch, Network.X, ShareStatus.PENDING, at(22, 23, minute=59, second=59)),
            share(carla, news, Network.X, ShareStatus.POSTED, at(1, month=10)),
            share(stranger, elsewhere, Network.LINKEDIN, ShareStatus.POSTED, at(24)),
        ]
    )

    def link(who: Member, what: Post, network: Network, code: str) -> TrackedLink:
        return TrackedLink(workspace_id=who.workspace_id, code=code, post_id=what.id, member_id=who.id,
                           network=network, created_at=at(2, month=9))  # fmt: skip

    bob_news = link(bob, news, Network.LINKEDIN, "bobnews")
    carla_launch = link(carla, launch, Network.X, "carlalaunch")
    stranger_link = link(stranger, elsewhere, Network.LINKEDIN, "stranger")
    session.add_all([bob_news, carla_launch, stranger_link])
    await session.flush()

    def click(where: TrackedLink, when: datetime, *, counted: bool = True) -> Click:
        return Click(workspace_id=where.workspace_id, link_id=where.id, at=when, counted=counted,
                     visitor=f"v{when.isoformat()}{counted}")  # fmt: skip

    session.add_all(
        [
            click(bob_news, at(23, 8)),
            click(bob_news, at(24, 8)),
            click(bob_news, at(25, 8)),
            click(bob_news, at(25, 8, minute=30), counted=False),
            click(carla_launch, at(10)),
            click(carla_launch, at(16, 0)),
            click(stranger_link, at(24)),
        ]
    )
    session.add(Dismissal(workspace_id=workspace_id, member_id=dan.id, post_id=news.id, created_at=at(20)))

    def nudge(
        who: Member, posts: list[Post], when: datetime, state: OutboxState = OutboxState.SENT
    ) -> OutboxMessage:
        return OutboxMessage(
            workspace_id=workspace_id, kind=NUDGE_KIND, destination=who.external_id,
            dedupe_key=f"nudge:{when.date().isoformat()}:{who.id}",
            payload={"member_id": who.id, "posts": [{"id": p.id, "title": p.title} for p in posts]},
            state=state, attempts=1, next_attempt_at=when,
            sent_at=when if state is OutboxState.SENT else None, created_at=when, updated_at=when,
        )  # fmt: skip

    session.add_all(
        [
            nudge(bob, [news], at(16, 9)),
            nudge(carla, [news], at(16, 9)),
            nudge(carla, [news, launch], at(23, 9)),
            nudge(dan, [news], at(23, 9), OutboxState.PENDING),
        ]
    )
    await session.flush()
    return Seeded(workspace_id=workspace_id, news=news.id, launch=launch.id, elsewhere=elsewhere.id)


async def seed_workspace(session: AsyncSession, external_id: str = "T1") -> Seeded:
    """A workspace of its own, seeded (the data layer's tests)."""
    found = await session.scalar(select(Workspace).where(Workspace.external_id == external_id))
    if found is None:
        found = Workspace(platform=Platform.SLACK, external_id=external_id, name="Acme", created_at=LONG_AGO,
                          updated_at=LONG_AGO)  # fmt: skip
        session.add(found)
        await session.flush()
    seeded = await seed(session, workspace_id=found.id)
    await session.commit()
    return seeded


FOUR_WEEKS = {  # week → (shares by network, clicks by network, sharers)
    "2026-11-02": ({}, {}, 0),
    "2026-11-09": ({Network.X: 1}, {Network.X: 1}, 1),
    "2026-11-16": ({Network.X: 1}, {Network.X: 1}, 1),
    "2026-11-23": ({Network.LINKEDIN: 2}, {Network.LINKEDIN: 3}, 1),
}
# Active members known at each week's end: Bob and Carla, then Eve from 2026-11-18 (Dan left).
MEMBERS = {"2026-11-02": 2, "2026-11-09": 2, "2026-11-16": 3, "2026-11-23": 3}
