"""What the schema itself guarantees: UTC timestamps, and the unique keys that make things happen once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import (
    Delivery,
    JobRun,
    Member,
    Network,
    Platform,
    Post,
    Share,
    ShareStatus,
    TrackedLink,
    Workspace,
)

# Rows these tests write themselves are stamped with a fixed time (there is no wall-clock default).
CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


async def _seed(session: AsyncSession) -> tuple[Workspace, Member, Post]:
    workspace = Workspace(platform=Platform.SLACK, external_id="T1", created_at=CREATED, updated_at=CREATED)
    session.add(workspace)
    await session.flush()
    member = Member(workspace_id=workspace.id, external_id="U1", created_at=CREATED, updated_at=CREATED)
    post = Post(
        workspace_id=workspace.id, url="https://example.com/news", created_at=CREATED, updated_at=CREATED
    )
    session.add_all([member, post])
    await session.flush()
    return workspace, member, post


async def test_timestamps_come_back_aware_utc(sessions: async_sessionmaker[AsyncSession]) -> None:
    paris = timezone(timedelta(hours=1))
    async with sessions() as session:
        _, _, post = await _seed(session)
        post.publish_at = datetime(2026, 12, 1, 9, 0, tzinfo=paris)
        await session.commit()
        post_id = post.id
    async with sessions() as session:
        loaded = await session.get_one(Post, post_id)
        assert loaded.publish_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        assert loaded.publish_at is not None
        assert loaded.publish_at.utcoffset() == timedelta(0)
        assert loaded.created_at.tzinfo is not None


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        _, _, post = await _seed(session)
        post.publish_at = datetime(2026, 12, 1, 9, 0)  # noqa: DTZ001 - the point of the test
        with pytest.raises(StatementError, match="naive datetime"):
            await session.flush()


async def test_one_share_per_member_post_network(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        workspace, member, post = await _seed(session)
        for network in (Network.LINKEDIN, Network.X):
            session.add(
                Share(
                    workspace_id=workspace.id,
                    member_id=member.id,
                    post_id=post.id,
                    network=network,
                    status=ShareStatus.INTENT,
                    created_at=CREATED,
                    updated_at=CREATED,
                )
            )
        await session.commit()
        ids = (workspace.id, member.id, post.id)
    async with sessions() as session:
        session.add(
            Share(
                workspace_id=ids[0],
                member_id=ids[1],
                post_id=ids[2],
                network=Network.X,
                status=ShareStatus.POSTED,
                created_at=CREATED,
                updated_at=CREATED,
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()
    async with sessions() as session:
        shares = (await session.scalars(select(Share))).all()
        assert sorted(share.network for share in shares) == [Network.LINKEDIN, Network.X]


async def test_a_platform_message_belongs_to_one_delivery(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        workspace, _, post = await _seed(session)
        other = Post(
            workspace_id=workspace.id, url="https://example.com/other", created_at=CREATED, updated_at=CREATED
        )
        session.add(other)
        await session.flush()
        session.add(
            Delivery(
                workspace_id=workspace.id,
                post_id=post.id,
                destination="C1",
                message_id="1.1",
                created_at=CREATED,
                updated_at=CREATED,
            )
        )
        session.add(
            Delivery(
                workspace_id=workspace.id,
                post_id=other.id,
                destination="C1",
                message_id="1.1",
                created_at=CREATED,
                updated_at=CREATED,
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_a_job_period_is_claimed_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        workspace, _, _ = await _seed(session)
        session.add(
            JobRun(workspace_id=workspace.id, job="leaderboard", period_key="2026-W48", started_at=CREATED)
        )
        await session.commit()
        workspace_id = workspace.id
    async with sessions() as session:
        session.add(
            JobRun(workspace_id=workspace_id, job="leaderboard", period_key="2026-W48", started_at=CREATED)
        )
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_tracked_link_codes_are_unique(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        workspace, member, post = await _seed(session)
        session.add(TrackedLink(workspace_id=workspace.id, code="abc", post_id=post.id, member_id=member.id,
                                network=Network.X, created_at=CREATED))  # fmt: skip
        session.add(TrackedLink(workspace_id=workspace.id, code="abc", post_id=post.id, member_id=member.id,
                                network=Network.LINKEDIN, created_at=CREATED))  # fmt: skip
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_invalid_enum_value_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        workspace, member, post = await _seed(session)
        share = Share(workspace_id=workspace.id, member_id=member.id, post_id=post.id, network=Network.X,
                      status="shared-maybe", created_at=CREATED, updated_at=CREATED)  # fmt: skip
        session.add(share)
        with pytest.raises(StatementError):
            await session.flush()


async def test_foreign_keys_are_enforced(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        session.add(Member(workspace_id=424242, external_id="U404", created_at=CREATED, updated_at=CREATED))
        with pytest.raises(IntegrityError):
            await session.commit()
