"""Tracked links (`PUBLIC_URL/r/<code>`), the clicks they bring, and tallies of the visits that did not
count."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, WorkspaceScoped, str_enum
from models.enums import Network


class TrackedLink(WorkspaceScoped, Base):
    """An unguessable `code` (at least 64 random bits) standing for post × member × network."""

    __tablename__ = "tracked_link"
    __table_args__ = (
        UniqueConstraint("post_id", "member_id", "network"),
        Index(None, "member_id"),  # a member's own clicks (`/relais me`, `bot.services.scores`)
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    post_id: Mapped[int] = mapped_column(Id, ForeignKey("post.id", ondelete="CASCADE"))
    # None once the member erased their data (`bot.services.erasure`): the link still opens the article,
    # and counts nothing.
    member_id: Mapped[int | None] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"))
    network: Mapped[Network] = mapped_column(str_enum(Network, "network"))
    created_at: Mapped[datetime] = mapped_column()


class Click(WorkspaceScoped, Base):
    """One counted click: one visitor (a keyed hash of the address with the salt of the click's UTC day,
    `VisitorSalt`, never the address) on one link in one UTC hour — the unique key makes concurrent
    visits agree. Robots and repeats are not rows here but counters in `VisitTally`. Rows written before
    revision 0006 have no `hour` and may be uncounted (`counted` false, `reason` saying why).

    Once older than `RELAIS_RETENTION_DAYS`, a link's counted clicks of one week are folded into weekly
    rows, usually one (`bot.services.retention`): `clicks` of them, `at` the start of the week (or of
    the year, when the week straddles the new year), no `hour` and no `visitor`. So every reader adds up
    `clicks`, never counts rows."""

    __tablename__ = "click"
    __table_args__ = (
        Index(None, "link_id", "at"),
        Index(None, "workspace_id", "at"),
        UniqueConstraint("link_id", "visitor", "hour"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int] = mapped_column(Id, ForeignKey("tracked_link.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column()
    hour: Mapped[datetime | None] = mapped_column()  # start of the UTC hour the click counts in
    counted: Mapped[bool] = mapped_column(default=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    visitor: Mapped[str | None] = mapped_column(String(64))
    clicks: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class VisitTally(WorkspaceScoped, Base):
    """Visits of one link in one UTC hour that did not count, as counters (one upserted row, not one
    row per visit): link-preview robots, repeats of a visitor already counted that hour, and visits of
    a withdrawn post."""

    __tablename__ = "visit_tally"
    __table_args__ = (
        UniqueConstraint("link_id", "hour"),
        Index(None, "workspace_id", "hour"),  # the old ones, deleted (`bot.services.retention`)
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int] = mapped_column(Id, ForeignKey("tracked_link.id", ondelete="CASCADE"))
    hour: Mapped[datetime] = mapped_column()
    robots: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    withdrawn: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
