"""A member's "Not for me" on a post: feedback for admins, and the post leaves that member's nudges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, WorkspaceScoped


class Dismissal(WorkspaceScoped, Base):
    __tablename__ = "dismissal"
    __table_args__ = (UniqueConstraint("member_id", "post_id"), Index(None, "post_id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(Id, ForeignKey("post.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column()
