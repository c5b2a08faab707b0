"""Tracked links (`PUBLIC_URL/r/<code>`) and the clicks they bring."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, WorkspaceScoped, str_enum, utcnow
from models.enums import Network


class TrackedLink(WorkspaceScoped, Base):
    """An unguessable `code` (at least 64 random bits) standing for post × member × network."""

    __tablename__ = "tracked_link"
    __table_args__ = (UniqueConstraint("post_id", "member_id", "network"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    post_id: Mapped[int] = mapped_column(Id, ForeignKey("post.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"))
    network: Mapped[Network] = mapped_column(str_enum(Network, "network"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Click(WorkspaceScoped, Base):
    """One visit of a tracked link. Crawlers and repeats are kept (for audit) but not `counted`;
    `reason` says why. `visitor` is a keyed hash of the visitor, never the raw address."""

    __tablename__ = "click"
    __table_args__ = (
        Index(None, "link_id", "at"),
        Index(None, "workspace_id", "at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int] = mapped_column(Id, ForeignKey("tracked_link.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    counted: Mapped[bool] = mapped_column(default=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    visitor: Mapped[str | None] = mapped_column(String(64))
