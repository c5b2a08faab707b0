"""Inbound deliveries already handled: a chat platform may deliver the same activity or event again (no
answer in time, a retry), to any web process; the first process to record the delivery runs it, the
others do not (`bot.services.inbound`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class InboundDelivery(Base):
    """Inserting the row is the claim: the primary key makes a second claim of the same delivery fail.

    `key` is the platform's identity of the delivery, bounded in length (`bot.services.inbound.delivery_key`:
    Teams' channel, conversation and activity ids, hashed). `answer` is what the first run answered, for a
    delivery answered in its HTTP response (a Teams invoke); None while it runs, and for one answered
    otherwise. Not scoped to a workspace: a delivery is checked before the workspace it is for is known.
    Rows older than `bot.services.inbound.RETENTION` are forgotten (the platforms resend within minutes)."""

    __tablename__ = "inbound_delivery"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(index=True)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
