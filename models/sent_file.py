"""The files Relais put in a member's private chat (`/relais mydata`'s copy of their data, on Slack): the
platform's file id, kept so that erasing the member deletes the file at the platform too. The member
cannot delete a file the bot uploaded, and Relais would otherwise keep no way to find it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, WorkspaceScoped


class SentFile(WorkspaceScoped, Base):
    __tablename__ = "sent_file"
    __table_args__ = (Index(None, "member_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"))
    file_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
