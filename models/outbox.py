"""The outbox: every outbound chat message is a row first, sent later by a drainer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, Timestamps, WorkspaceScoped, str_enum
from models.enums import OutboxState


class OutboxMessage(WorkspaceScoped, Timestamps, Base):
    """`dedupe_key` makes enqueueing idempotent (e.g. `nudge:2026-W48:U123`); `destination` is the
    platform's own id of a member (`Member.external_id`) or a channel, which the notifier of the
    workspace's platform resolves (`bot.notifier`); `payload` is platform-neutral data the notifier
    renders; `result` keeps what the platform answered (the message id and the conversation it is in)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("workspace_id", "dedupe_key"),
        Index(None, "state", "next_attempt_at"),
        # Each workspace's due messages, claimed by its own drain lane (`bot.services.outbox.drain`).
        Index(None, "workspace_id", "state", "next_attempt_at"),
        Index(None, "workspace_id", "round_key", "state"),
        # The dashboard's members reached: the nudges sent in a week (`bot.services.analytics`).
        Index(None, "workspace_id", "kind", "sent_at"),
        # The finished messages older than RELAIS_RETENTION_DAYS (`bot.services.retention`).
        Index(None, "workspace_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(255))
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The round a message belongs to (e.g. `nudges:2026-W49@Europe/Paris`), for its progress message.
    round_key: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[OutboxState] = mapped_column(
        str_enum(OutboxState, "outbox_state"), default=OutboxState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sent_at: Mapped[datetime | None]


class OutboxPacing(Base):
    """When the next message to one destination may go, shared by every drainer of every process (the
    web processes and the clock), so that together they stay within the platform's per-channel limit.

    `next_slot_ms` is the generic cell rate algorithm's "theoretical arrival time", in milliseconds
    since the epoch: an integer, so that a drainer takes a slot by a compare-and-set update that works
    alike on SQLite and PostgreSQL."""

    __tablename__ = "outbox_pacing"

    workspace_id: Mapped[int] = mapped_column(Id, primary_key=True)
    destination: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_slot_ms: Mapped[int] = mapped_column(BigInteger)
