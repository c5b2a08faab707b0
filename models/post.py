"""A piece of content queued by an admin, and its deliveries into channels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, Timestamps, WorkspaceScoped, str_enum
from models.enums import PostState


class Post(WorkspaceScoped, Timestamps, Base):
    """A link to share. `captions` are the suggested variants (rotated across colleagues),
    `networks` the networks it targets, `channels` the channel ids it is pushed to."""

    __tablename__ = "post"
    __table_args__ = (Index(None, "workspace_id", "state", "publish_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    captions: Mapped[list[str]] = mapped_column(JSON, default=list)
    networks: Mapped[list[str]] = mapped_column(JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[PostState] = mapped_column(str_enum(PostState, "post_state"), default=PostState.DRAFT)
    publish_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("member.id", ondelete="SET NULL"))


class Delivery(WorkspaceScoped, Timestamps, Base):
    """One post delivered to one destination (a channel). `message_id` is the platform's id of the
    message (Slack `ts`, Teams activity id): unique, so a message is never attributed twice."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("post_id", "destination"),
        UniqueConstraint("workspace_id", "destination", "message_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(Id, ForeignKey("post.id", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(255))
