"""Posts: queueing a link, publishing it into channels (through the outbox), listing and cancelling.

Handlers pass plain inputs; what comes back is plain data (`PostCard`) that the Slack and Teams
builders render, never an ORM row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_ignoring_conflicts
from bot.i18n import language_for
from bot.notifier import Delivered
from bot.services import members, outbox, posting, progress
from bot.services.inputs import has_control_characters
from bot.services.preview import Preview
from bot.services.when import EXPIRY_HORIZON, HORIZON
from models import (
    Delivery,
    Dismissal,
    Member,
    Network,
    OutboxMessage,
    OutboxState,
    Platform,
    Post,
    PostState,
    Share,
    Workspace,
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
POST_KIND: Final = "post"
POST_UPDATE_KIND: Final = "post_update"
UNDELIVERED: Final = "undelivered"  # how a list shows a published post that no channel took
MAX_CAPTIONS: Final = 3
LINKEDIN_MAX: Final = 3000
X_MAX: Final = 280
X_URL_LENGTH: Final = 23  # X counts every link as 23 characters


class PostError(ValueError):
    """A refusal the user can fix; `code` names the i18n message, `params` fill it."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class PostCard:
    """What a channel message or a card shows about a post."""

    id: int
    url: str
    title: str | None
    description: str | None
    image_url: str | None
    caption: str | None
    networks: tuple[str, ...]
    state: str

    def to_payload(self) -> dict[str, object]:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "description": self.description,
            "image_url": self.image_url,
            "caption": self.caption,
            "networks": list(self.networks),
            "state": self.state,
        }

    @classmethod
    def from_payload(cls, data: dict[str, object]) -> PostCard:
        networks = data.get("networks") or []
        assert isinstance(networks, list)
        return cls(
            id=int(str(data["id"])),
            url=str(data["url"]),
            title=_opt(data.get("title")),
            description=_opt(data.get("description")),
            image_url=_opt(data.get("image_url")),
            caption=_opt(data.get("caption")),
            networks=tuple(str(n) for n in networks),
            state=str(data.get("state", PostState.PUBLISHED.value)),
        )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def card_of(post: Post, *, caption: str | None = None) -> PostCard:
    return PostCard(
        id=post.id,
        url=post.url,
        title=post.title,
        description=post.description,
        image_url=post.image_url,
        caption=caption if caption is not None else (post.captions[0] if post.captions else None),
        networks=tuple(post.networks),
        state=post.state.value,
    )


def caption_for(post: Post, *, member_id: int) -> str | None:
    """The caption variant this member gets: rotated across colleagues (consecutive member ids get
    consecutive variants) so they do not all post the same words; stable for one member."""
    return rotate_caption(post.captions, post_id=post.id, member_id=member_id)


def rotate_caption(captions: Sequence[str], *, post_id: int, member_id: int) -> str | None:
    return captions[(member_id + post_id) % len(captions)] if captions else None


# X weighs characters (twitter-text v3): these code point ranges count 1, everything else 2
# (CJK, emoji…); a link counts 23 whatever its length.
_X_LIGHT_RANGES: Final = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def _x_weight(character: str) -> int:
    point = ord(character)
    return 1 if any(low <= point <= high for low, high in _X_LIGHT_RANGES) else 2


def x_length(text: str) -> int:
    """Length as X counts it for a post made of `text`, a space and a link."""
    return sum(_x_weight(character) for character in text) + 1 + X_URL_LENGTH


def check_captions(captions: list[str], networks: list[str]) -> None:
    """Refuse captions a targeted network would refuse, naming the limit."""
    if len(captions) > MAX_CAPTIONS:
        raise PostError("too_many_captions", limit=MAX_CAPTIONS)
    for caption in captions:
        if has_control_characters(caption):
            raise PostError("text_control_characters")
        if Network.X.value in networks and x_length(caption) > X_MAX:
            raise PostError(
                "caption_too_long_x",
                limit=X_MAX - 1 - X_URL_LENGTH,
                length=x_length(caption) - 1 - X_URL_LENGTH,
            )
        if Network.LINKEDIN.value in networks and not posting.caption_fits(caption):
            length = posting.linkedin_length(caption)  # as LinkedIn counts: escapes included
            raise PostError("caption_too_long_linkedin", limit=LINKEDIN_MAX, length=length)


async def queue_post(
    session: AsyncSession,
    *,
    workspace: Workspace,
    author: Member,
    preview: Preview,
    captions: list[str],
    channels: list[str],
    networks: list[str],
    publish_at: datetime | None,
    expires_at: datetime | None,
    now: datetime,
    lang: str,
) -> Post:
    """Create a post; publish it now (outbox rows, one per channel) or schedule it for `publish_at`."""
    captions = [c.strip() for c in captions if c and c.strip()]
    networks = [n for n in (Network.LINKEDIN.value, Network.X.value) if n in networks]
    if not networks:
        raise PostError("no_network")
    if not channels:
        raise PostError("no_channel")
    check_captions(captions, networks)
    if publish_at is not None and publish_at - now > HORIZON:
        raise PostError("publish_at_too_far")
    if expires_at is not None and expires_at <= (publish_at or now):
        raise PostError("expiry_before_publish")
    if expires_at is not None and expires_at - (publish_at or now) > EXPIRY_HORIZON:
        raise PostError("expiry_too_far")
    post = Post(
        workspace_id=workspace.id,
        url=preview.url,
        title=preview.title,
        description=preview.description,
        image_url=preview.image_url,
        captions=captions,
        networks=networks,
        channels=list(dict.fromkeys(channels)),
        state=PostState.SCHEDULED if publish_at is not None and publish_at > now else PostState.DRAFT,
        publish_at=publish_at or now,
        expires_at=expires_at,
        created_by_id=author.id,
        created_at=now,
        updated_at=now,
    )
    session.add(post)
    await session.flush()
    if post.state is PostState.DRAFT:
        await publish(session, post=post, now=now, lang=lang)
    return post


async def publish(session: AsyncSession, *, post: Post, now: datetime, lang: str) -> None:
    """Mark the post published and enqueue one channel message per target channel (sent by the outbox)."""
    post.state = PostState.PUBLISHED
    post.published_at = now
    card = card_of(post)
    round_key = f"post:{post.id}"
    author = await session.get(Member, post.created_by_id) if post.created_by_id is not None else None
    await progress.announce(
        session,
        workspace_id=post.workspace_id,
        round_key=round_key,
        what="post",
        total=len(post.channels),
        recipients=[author.external_id] if author is not None else [],
        now=now,
    )
    for channel in post.channels:
        await outbox.enqueue(
            session,
            workspace_id=post.workspace_id,
            kind=POST_KIND,
            destination=channel,
            payload={"post": card.to_payload(), "lang": lang},
            dedupe_key=f"post:{post.id}:{channel}",
            now=now,
            round_key=round_key,
        )


async def get_post(session: AsyncSession, *, workspace_id: int, post_id: int) -> Post | None:
    return await session.scalar(select(Post).where(Post.workspace_id == workspace_id, Post.id == post_id))


async def cancel_post(
    session: AsyncSession, *, workspace_id: int, post_id: int, now: datetime, lang: str
) -> Post:
    """Cancel a post: its buttons stop working and every channel message is updated to say so."""
    post = await get_post(session, workspace_id=workspace_id, post_id=post_id)
    if post is None:
        raise PostError("unknown_post", id=post_id)
    if post.state is PostState.CANCELLED:
        raise PostError("already_cancelled", id=post_id)
    post.state = PostState.CANCELLED
    post.updated_at = now
    await _update_deliveries(
        session, post=post, now=now, lang=await _post_language(session, post), reason="cancel"
    )
    # Messages not yet sent are not sent at all.
    await outbox.cancel_pending(session, workspace_id=workspace_id, dedupe_prefix=f"post:{post.id}:")
    return post


@dataclass(frozen=True)
class Undelivered:
    """A post's channel message Slack refused for good (`error` is the platform's reason)."""

    post_id: int
    destination: str
    error: str


@dataclass(frozen=True)
class PostLine:
    id: int
    url: str
    title: str | None
    state: str
    publish_at: datetime | None
    shares: int
    not_delivered: tuple[Undelivered, ...] = ()
    sending: tuple[str, ...] = ()  # channels whose message is still on its way


async def list_posts(session: AsyncSession, *, workspace_id: int, limit: int = 15) -> list[PostLine]:
    """Upcoming posts first (soonest first), then the most recent ones, with their share counts."""
    shares = (
        select(Share.post_id, func.count().label("n"))
        .where(Share.workspace_id == workspace_id)
        .group_by(Share.post_id)
        .subquery()
    )
    rows = await session.execute(
        select(Post, func.coalesce(shares.c.n, 0))
        .outerjoin(shares, shares.c.post_id == Post.id)
        .where(Post.workspace_id == workspace_id)
        .order_by(Post.id.desc())
        .limit(limit)
    )
    posts = rows.all()
    failed = await undelivered(session, workspace_id=workspace_id, post_ids=[p.id for p, _ in posts])
    sending = await _sending(session, workspace_id=workspace_id, post_ids=[p.id for p, _ in posts])
    lines = [
        PostLine(
            id=p.id,
            url=p.url,
            title=p.title,
            state=_shown_state(p, failed=[x for x in failed if x.post_id == p.id], sending=sending.get(p.id)),
            publish_at=p.publish_at,
            shares=int(n),
            not_delivered=tuple(x for x in failed if x.post_id == p.id),
            sending=tuple(sending.get(p.id, ())),
        )
        for p, n in posts
    ]
    upcoming = sorted(
        (x for x in lines if x.state == PostState.SCHEDULED.value),
        key=lambda x: (x.publish_at is None, x.publish_at or _EPOCH),
    )
    return upcoming + [x for x in lines if x.state != PostState.SCHEDULED.value]


def _shown_state(post: Post, *, failed: Sequence[Undelivered], sending: Sequence[str] | None) -> str:
    """A published post that every channel refused, with nothing left to send, is shown "undelivered":
    "published" would not be true."""
    refused_everywhere = {x.destination for x in failed} >= set(post.channels) and not sending
    if post.state is PostState.PUBLISHED and post.channels and refused_everywhere:
        return UNDELIVERED
    return post.state.value


def _round_keys(post_ids: Sequence[int]) -> list[str]:
    return [f"post:{post_id}" for post_id in post_ids]


def _post_of(round_key: str | None) -> int:
    return int(str(round_key).split(":", 1)[1])


async def undelivered(
    session: AsyncSession,
    *,
    workspace_id: int,
    post_ids: Sequence[int] | None = None,
    since: datetime | None = None,
) -> list[Undelivered]:
    """Channel messages of posts (`post_ids`, or those queued since `since`) that were refused for good:
    the outbox row of each channel push says so and why."""
    query = select(OutboxMessage.round_key, OutboxMessage.destination, OutboxMessage.last_error).where(
        OutboxMessage.workspace_id == workspace_id,
        OutboxMessage.kind == POST_KIND,
        OutboxMessage.state == OutboxState.FAILED,
    )
    if post_ids is not None:
        query = query.where(OutboxMessage.round_key.in_(_round_keys(post_ids)))
    if since is not None:
        query = query.where(OutboxMessage.created_at >= since)
    rows = await session.execute(query.order_by(OutboxMessage.id))
    return [
        Undelivered(post_id=_post_of(key), destination=destination, error=error or "unknown_error")
        for key, destination, error in rows
    ]


async def _sending(
    session: AsyncSession, *, workspace_id: int, post_ids: Sequence[int]
) -> dict[int, list[str]]:
    rows = await session.execute(
        select(OutboxMessage.round_key, OutboxMessage.destination)
        .where(
            OutboxMessage.workspace_id == workspace_id,
            OutboxMessage.kind == POST_KIND,
            OutboxMessage.state.in_((OutboxState.PENDING, OutboxState.SENDING)),
            OutboxMessage.round_key.in_(_round_keys(post_ids)),
        )
        .order_by(OutboxMessage.id)
    )
    found: dict[int, list[str]] = {}
    for key, destination in rows:
        found.setdefault(_post_of(key), []).append(destination)
    return found


async def record_delivery(
    session: AsyncSession,
    *,
    workspace_id: int,
    post_id: int,
    destination: str,
    message_id: str,
    now: datetime,
) -> None:
    existing = await session.scalar(
        select(Delivery).where(
            Delivery.workspace_id == workspace_id,
            Delivery.post_id == post_id,
            Delivery.destination == destination,
        )
    )
    if existing is None:
        session.add(
            Delivery(
                workspace_id=workspace_id,
                post_id=post_id,
                destination=destination,
                message_id=message_id,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        existing.message_id = message_id


def default_channel(workspace: Workspace, *, fallback: str | None) -> str | None:
    """Where a post (or a leaderboard) goes when no channel is named: the workspace's (`/relais
    channel`), else, for a Slack workspace only, the installation's (`fallback`: RELAIS_CHANNEL, a Slack
    channel id; one deployment serves every platform, and a Slack id means nothing to another one). The
    one place this choice is written."""
    if workspace.default_channel:
        return workspace.default_channel
    return fallback if workspace.platform == Platform.SLACK else None


async def after_send(
    session: AsyncSession, message: OutboxMessage, outcome: Delivered, now: datetime
) -> None:
    """Outbox hook: a channel push that went out becomes a `Delivery` (its message can be updated)."""
    if message.kind == POST_KIND and outcome.ok and outcome.message_id:
        post_id = int(message.payload["post"]["id"])
        await record_delivery(
            session,
            workspace_id=message.workspace_id,
            post_id=post_id,
            destination=message.destination,
            message_id=outcome.message_id,
            now=now,
        )


async def dismiss(
    session: AsyncSession, *, workspace_id: int, member_id: int, post_id: int, now: datetime
) -> None:
    """Record "Not for me" once: feedback for admins, and the post leaves this member's nudges."""
    row = {"workspace_id": workspace_id, "member_id": member_id, "post_id": post_id, "created_at": now}
    await session.execute(insert_ignoring_conflicts(session, Dismissal.__table__, [row]))


async def latest_cards(
    session: AsyncSession, *, workspace_id: int, member_id: int, limit: int = 5
) -> list[PostCard]:
    """The latest published posts, each with this member's caption variant."""
    rows = await session.scalars(
        select(Post)
        .where(Post.workspace_id == workspace_id, Post.state == PostState.PUBLISHED)
        .order_by(Post.published_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return [card_of(post, caption=caption_for(post, member_id=member_id)) for post in rows]


async def publish_due(
    session: AsyncSession, *, now: datetime, queued_at: datetime | None = None
) -> list[int]:
    """Publish every scheduled post whose time has come at `now` (all workspaces); returns their ids.
    Each post is claimed by a conditional update, so two clocks never publish one post twice. It is
    published, and its channel messages are due, at `queued_at` (default `now`): `relais jobs run
    publish --at` a later time publishes what is due then, at once, never a post dated in the future
    whose messages wait."""
    at = queued_at or now
    due = await session.execute(
        select(Post.id, Post.workspace_id, Member.locale, Member.language)
        .outerjoin(Member, Member.id == Post.created_by_id)
        .where(
            Post.state == PostState.SCHEDULED,
            Post.publish_at <= now,
            Post.workspace_id.in_(members.served_workspaces()),
        )
        .order_by(Post.publish_at, Post.id)
    )
    published = []
    for post_id, workspace_id, locale, language in due.all():
        claimed = await session.execute(
            update(Post)
            .where(Post.id == post_id, Post.workspace_id == workspace_id, Post.state == PostState.SCHEDULED)
            .values(state=PostState.DRAFT, updated_at=at)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        post = await session.get_one(Post, post_id)
        await publish(session, post=post, now=at, lang=language_for(chosen=language, locale=locale))
        published.append(post_id)
    return published


async def expire_due(session: AsyncSession, *, now: datetime, queued_at: datetime | None = None) -> list[int]:
    """Posts past their expiry date at `now` leave circulation: their channel messages lose their
    buttons, updated at `queued_at` (default `now`; see `publish_due`)."""
    at = queued_at or now
    due = await session.scalars(
        select(Post).where(
            Post.state == PostState.PUBLISHED,
            Post.expires_at.is_not(None),
            Post.expires_at <= now,
            Post.workspace_id.in_(members.served_workspaces()),
        )
    )
    expired = []
    for post in due.all():
        post.state = PostState.EXPIRED
        post.updated_at = at
        lang = await _post_language(session, post)
        await _update_deliveries(session, post=post, now=at, lang=lang, reason="expire")
        expired.append(post.id)
    return expired


async def _post_language(session: AsyncSession, post: Post) -> str:
    """A post's channel messages speak the language of the admin who queued it, from first to last."""
    author = await session.get(Member, post.created_by_id) if post.created_by_id is not None else None
    return language_for(chosen=author.language, locale=author.locale) if author is not None else "en"


async def _update_deliveries(
    session: AsyncSession, *, post: Post, now: datetime, lang: str, reason: str
) -> None:
    card = card_of(post)
    deliveries = await session.scalars(
        select(Delivery).where(Delivery.workspace_id == post.workspace_id, Delivery.post_id == post.id)
    )
    for delivery in deliveries:
        if delivery.message_id is None:
            continue
        await outbox.enqueue(
            session,
            workspace_id=post.workspace_id,
            kind=POST_UPDATE_KIND,
            destination=delivery.destination,
            payload={"post": card.to_payload(), "lang": lang, "message_id": delivery.message_id},
            dedupe_key=f"{reason}:{post.id}:{delivery.destination}",
            now=now,
        )
