"""Every member's points as of a moment, kept so that `/relais me` ranks a member among 50,000 without
adding up a year of everyone's shares and clicks at every look (`bot.services.scores.member_stats`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id


class SettledPoints(Base):
    """A member's points as they were at their workspace's `PointsRefresh.as_of` (only members with
    points have a row); the members whose rows changed since are counted from their rows instead."""

    __tablename__ = "settled_points"
    __table_args__ = (
        Index(None, "workspace_id", "points"),  # how many members have more points than one
        {"sqlite_with_rowid": False},
    )

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)


class PointsRefresh(Base):
    """When a workspace's `SettledPoints` were exact."""

    __tablename__ = "points_refresh"

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    as_of: Mapped[datetime]
