"""Every member's points of the weeks already over, kept so that `/relais me` ranks a member among 50,000
without adding up a year of shares and clicks at every look (`bot.services.scores.settle`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id


class SettledPoints(Base):
    """A member's points from the shares and clicks dated before their workspace's `PointsRefresh.
    settled_until` (a Monday, 00:00 UTC: no link's weekly click cap straddles it). Only members with
    points have a row."""

    __tablename__ = "settled_points"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - read in the primary key's order

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)


class PointsRefresh(Base):
    """How far a workspace's `SettledPoints` go (`settled_until`), as the rows stood at `refreshed_at`
    (a share dated before `settled_until` that changed since has them rebuilt)."""

    __tablename__ = "points_refresh"

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    settled_until: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
