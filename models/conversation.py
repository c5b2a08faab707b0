"""Where a platform can reach someone or somewhere without being spoken to first: Teams' conversation
references (a bot writes to a person or a channel proactively only with the reference of a conversation
it was in), stored when an activity brings one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, WorkspaceScoped


class ConversationRef(WorkspaceScoped, Base):
    """`key` is what the notifier looks the reference up by: a member's Entra (AAD) object id, or a
    channel's conversation id. `reference` is the platform's own JSON (Teams: the Bot Framework's
    ConversationReference: serviceUrl, conversation, bot, user, tenant), kept as the platform gave it;
    the latest one wins (`bot.services.conversations.remember`)."""

    __tablename__ = "conversation_ref"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    reference: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column()
