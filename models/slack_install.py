"""Slack OAuth v2 installations (one Slack app serving many workspaces) and the install flow's states."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id


class SlackInstallation(Base):
    """One installation of the app: a workspace's (`team_id`), or an Enterprise Grid organisation's
    (`is_enterprise_install`, `team_id` NULL), which then serves every workspace of the org. Bot tokens
    are Fernet ciphertexts (`ENCRYPTION_KEY`), as the social tokens: plaintext tokens never reach the
    database. `key` is `<enterprise id or ->:<team id or ->`, unique (a NULL in a unique pair would not
    be), so a re-installation replaces the row."""

    __tablename__ = "slack_installation"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32), index=True)
    enterprise_name: Mapped[str | None] = mapped_column(String(255))
    team_id: Mapped[str | None] = mapped_column(String(32), index=True)
    team_name: Mapped[str | None] = mapped_column(String(255))
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    app_id: Mapped[str | None] = mapped_column(String(32))
    bot_id: Mapped[str] = mapped_column(String(32))
    bot_user_id: Mapped[str] = mapped_column(String(32))
    bot_scopes: Mapped[str] = mapped_column(Text, default="")
    bot_token_encrypted: Mapped[str] = mapped_column(Text)
    # Token rotation (when the app turns it on): a 12-hour token and the refresh token that renews it.
    bot_refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None]
    # Who installed the app (a Slack user id): personal data, erased with the member (`forget_installer`).
    installer_user_id: Mapped[str | None] = mapped_column(String(32))
    installed_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SlackOAuthState(Base):
    """A `state` the install page issued (its SHA-256, never the value itself), single use, until
    `expires_at`."""

    __tablename__ = "slack_oauth_state"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
