"""A chat workspace (a Slack team or a Teams tenant) and its Relais settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, Timestamps


class Workspace(Timestamps, Base):
    """The root of every other row. `external_id` is Slack's team id or Teams' tenant id."""

    __tablename__ = "workspace"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # The name of the chat platform's adapter (`bot.platforms`: slack, teams, or any installed plugin),
    # an open string so that a new platform needs no migration; `models.Platform` names the known ones.
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    default_channel: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Schedules and other per-workspace preferences, e.g. {"nudges": {"day": "tue", "time": "10:00"}}.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Slack's Enterprise Grid organisation the team belongs to (None: none, or not known yet).
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    # When the app was uninstalled or its tokens revoked (Slack's `app_uninstalled`, `tokens_revoked`):
    # nothing is sent to the workspace and its schedules are skipped until it is installed again.
    uninstalled_at: Mapped[datetime | None]
    # When its data was last removed (`bot.services.workspace_erasure`): only its bare row is left since.
    # The retention job's removal is due again only for an uninstall after it (installed, then removed
    # again).
    removed_at: Mapped[datetime | None]
