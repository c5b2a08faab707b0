"""One attempt to connect a member's social account: the personal link, then the provider round trip."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, Timestamps, WorkspaceScoped, str_enum
from models.enums import Network


class OAuthAttempt(WorkspaceScoped, Timestamps, Base):
    """Issued with the link (`nonce`, `expires_at`); `started_at` marks the link used (single use) and
    sets `state` (the SHA-256 of the CSRF value the provider echoes back) and, for PKCE, the encrypted
    `code_verifier`; `finished_at` marks the callback consumed, so a replayed callback does nothing."""

    __tablename__ = "oauth_attempt"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"), index=True)
    network: Mapped[Network] = mapped_column(str_enum(Network, "network"))
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    state: Mapped[str | None] = mapped_column(String(128), unique=True)
    code_verifier_encrypted: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
