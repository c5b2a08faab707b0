"""Content suggested by employees (`/relais suggest`), reviewed by admins."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, Timestamps, WorkspaceScoped, str_enum


class SuggestionState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Suggestion(WorkspaceScoped, Timestamps, Base):
    """`review_messages` lists where the Approve/Reject buttons were sent, as each review message went
    out of the outbox ([{"channel", "message_id", "admin", "lang"}]; rows from before the outbox carried
    reviews say "ts" for "message_id"), so they can all be updated once one admin decides."""

    __tablename__ = "suggestion"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[SuggestionState] = mapped_column(
        str_enum(SuggestionState, "suggestion_state"), default=SuggestionState.PENDING
    )
    decided_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("member.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    post_id: Mapped[int | None] = mapped_column(Id, ForeignKey("post.id", ondelete="SET NULL"))
    review_messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
