"""Weekly aggregates of the admins' dashboard (`bot.services.analytics`), rebuilt from the share, click and
outbox rows stamped before a watermark, so that the dashboard reads thousands of rows instead of millions.

`week` is the number of whole weeks from Monday 1970-01-05 UTC to the week's Monday.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id


class DashboardWeek(Base):
    """One post on one network in one week: share rows of any status (share clicks), counted shares, and
    counted clicks its tracked links brought."""

    __tablename__ = "dashboard_week"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - the rows are the primary key's order

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(Id, primary_key=True)
    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    share_clicks: Mapped[int] = mapped_column(Integer, default=0)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


class DashboardMemberWeek(Base):
    """One member on one network in one week: counted shares and the counted clicks their links brought,
    over every post (`channel` empty) and again over the posts pushed to each channel (for the channel
    choice). Only members with a share or a click have a row."""

    __tablename__ = "dashboard_member_week"
    __table_args__ = (
        # The members of the last days, looked up one by one (`bot.services.analytics.advocates`).
        Index(None, "workspace_id", "channel", "member_id"),
        Index(None, "workspace_id", "week"),  # a rebuild's weeks, every channel
        {"sqlite_with_rowid": False},  # read in the primary key's order
    )

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(255), primary_key=True)
    week: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, primary_key=True)
    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


class DashboardSharersWeek(Base):
    """Members who shared in one week, over every network (`network` empty) and on each, over every post
    (`channel` empty) and over the posts pushed to each channel: participation without counting distinct
    members of a year at every look."""

    __tablename__ = "dashboard_sharers_week"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(255), primary_key=True)
    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    week: Mapped[int] = mapped_column(Integer, primary_key=True)
    sharers: Mapped[int] = mapped_column(Integer, default=0)


class DashboardReachWeek(Base):
    """Members a weekly nudge listing a post was sent to, in one week."""

    __tablename__ = "dashboard_reach_week"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(Id, primary_key=True)
    reached: Mapped[int] = mapped_column(Integer, default=0)


class DashboardRefresh(Base):
    """How far a workspace's aggregates go: every row stamped before `watermark`, as the rows stood at
    `refreshed_at` (a share changed since then has its week rebuilt)."""

    __tablename__ = "dashboard_refresh"

    workspace_id: Mapped[int] = mapped_column(
        Id, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    watermark: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
