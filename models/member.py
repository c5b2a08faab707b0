"""A person in a workspace: their chat identity, language, time zone and nudge preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, Timestamps, WorkspaceScoped


class Member(WorkspaceScoped, Timestamps, Base):
    """`external_id` is the chat platform's user id. `locale`/`timezone` come from the platform;
    `language` is the member's own choice (`/relais lang`) and wins over the locale when set."""

    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("workspace_id", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    # Cache of the platform's admin/owner flag; refreshed when older than a few minutes.
    is_admin: Mapped[bool] = mapped_column(default=False)
    admin_checked_at: Mapped[datetime | None]
    # Nudge preferences: opted out is for good (until resumed); paused is until a date.
    opted_out: Mapped[bool] = mapped_column(default=False)
    paused_until: Mapped[datetime | None]
    # Nudge back-off: nudges sent since the member last shared, and when the last one was sent.
    nudges_unanswered: Mapped[int] = mapped_column(default=0, server_default="0")
    last_nudged_at: Mapped[datetime | None]
    # False once the platform says the person left (user_not_found, account_inactive).
    active: Mapped[bool] = mapped_column(default=True)
    # When the person's data was erased (`bot.services.erasure`): the row stays, anonymous (its
    # `external_id` an unguessable `erased:…` that matches nobody), so that their shares still count.
    erased_at: Mapped[datetime | None]
