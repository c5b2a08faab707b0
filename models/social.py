"""A member's connection to a social network, with its tokens encrypted at rest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, Timestamps, WorkspaceScoped, str_enum
from models.enums import Network, SocialAccountStatus


class SocialAccount(WorkspaceScoped, Timestamps, Base):
    """Tokens are Fernet ciphertexts (`ENCRYPTION_KEY`); plaintext tokens never reach the database."""

    __tablename__ = "social_account"
    __table_args__ = (UniqueConstraint("member_id", "network"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"))
    network: Mapped[Network] = mapped_column(str_enum(Network, "network"))
    external_person_id: Mapped[str] = mapped_column(String(255))
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    scopes: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[SocialAccountStatus] = mapped_column(
        str_enum(SocialAccountStatus, "social_account_status"), default=SocialAccountStatus.CONNECTED
    )
    # When the member was told their (unrefreshable) connection is about to end; reset on reconnect.
    expiry_warned_at: Mapped[datetime | None]
