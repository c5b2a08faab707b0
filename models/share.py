"""A member's share of a post on a network: recorded exactly once per member × post × network."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, Timestamps, WorkspaceScoped, str_enum
from models.enums import Network, ShareStatus


class Share(WorkspaceScoped, Timestamps, Base):
    """The unique key (member, post, network) is what makes double clicks, parallel clicks and Slack
    retries record one share. `external_id`/`external_url` come from the network's own answer."""

    __tablename__ = "share"
    __table_args__ = (
        UniqueConstraint("member_id", "post_id", "network"),
        Index(None, "workspace_id", "created_at"),
        Index(None, "post_id"),
        # The dashboard's aggregates find the shares changed since they were built (`bot.services.analytics`).
        Index(None, "workspace_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # None once the member erased their data (`bot.services.erasure`): the share still counts in the
    # company's totals, and stands for nobody.
    member_id: Mapped[int | None] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(Id, ForeignKey("post.id", ondelete="CASCADE"))
    network: Mapped[Network] = mapped_column(str_enum(Network, "network"))
    status: Mapped[ShareStatus] = mapped_column(str_enum(ShareStatus, "share_status"))
    caption: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(255))
    external_url: Mapped[str | None] = mapped_column(String(2048))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    posted_at: Mapped[datetime | None]
    # When the member's personal link counted this share. Kept while a later API attempt runs or after
    # it fails: a share the member was told is counted stays counted (`bot.services.scores`).
    intent_at: Mapped[datetime | None]
    # The channel whose post card the member clicked to share: set when the row is created, never after
    # (the first place counts). None for a share from a reminder (a private chat) or from a personal link
    # opened with no click before it (`bot.services.analytics.post_page` shows these apart).
    channel: Mapped[str | None] = mapped_column(String(255))
