"""Tracked links (`PUBLIC_URL/r/<code>`): one per member × post × network, and the clicks they bring.

Clicks can only be counted through our own redirect (LinkedIn reports clicks for organisation posts
only). Link-preview crawlers fetch a link as soon as it is posted, and people click twice: neither
counts. Every visit is still stored, with the reason it was not counted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import insert_ignoring_conflicts
from models import Click, Network, Post, PostState, TrackedLink

CODE_BYTES: Final = 12  # 96 random bits, url-safe base64: 16 characters
REPEAT_WINDOW: Final = timedelta(hours=1)
UTM_MEDIUM: Final = "employee_advocacy"

# Link-preview and indexing robots, by User-Agent. Matching is deliberately broad: a missed human click
# costs one point, a counted robot makes every leaderboard a lie.
CRAWLERS: Final = re.compile(
    r"linkedinbot|twitterbot|slackbot|slack-imgproxy|facebookexternalhit|facebot|meta-externalagent|"
    r"discordbot|telegrambot|whatsapp|skypeuripreview|microsoftpreview|teamsbot|msteams|googlebot|"
    r"bingbot|bingpreview|applebot|yandex|baiduspider|duckduckbot|pinterest|redditbot|embedly|"
    r"iframely|mastodon|bluesky|headlesschrome|python-requests|python-httpx|curl/|wget/|"
    r"\bbot\b|crawler|spider|preview",
    re.IGNORECASE,
)


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def tracked_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/r/{code}"


def destination_url(post_url: str, *, network: str, post_id: int) -> str:
    """The post's URL with utm_source/medium/campaign set; the rest of its query is kept."""
    parts = urlsplit(post_url)
    ours = {"utm_source", "utm_medium", "utm_campaign"}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    query += [("utm_source", network), ("utm_medium", UTM_MEDIUM), ("utm_campaign", f"relais-{post_id}")]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def link_for(
    session: AsyncSession, *, workspace_id: int, post_id: int, member_id: int, network: Network
) -> TrackedLink:
    """The member's link for this post and network, created on first use (concurrent calls agree)."""
    key = (
        (TrackedLink.post_id == post_id)
        & (TrackedLink.member_id == member_id)
        & (TrackedLink.network == network)
    )
    existing = await session.scalar(select(TrackedLink).where(TrackedLink.workspace_id == workspace_id, key))
    if existing is not None:
        return existing
    row = {
        "workspace_id": workspace_id,
        "post_id": post_id,
        "member_id": member_id,
        "network": network,
        "code": new_code(),
    }
    await session.execute(insert_ignoring_conflicts(session, TrackedLink.__table__, [row]))
    return (
        await session.scalars(select(TrackedLink).where(TrackedLink.workspace_id == workspace_id, key))
    ).one()


def is_crawler(user_agent: str | None) -> bool:
    return not user_agent or CRAWLERS.search(user_agent) is not None


def visitor_key(secret: bytes, *, address: str | None, user_agent: str | None) -> str:
    """A keyed hash standing for one visitor (address + browser); the address itself is never stored."""
    material = f"{address or '-'}|{user_agent or '-'}".encode()
    return hmac.new(secret, material, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Visit:
    """What `/r/<code>` does: where to send the visitor, and whether the click counted."""

    location: str
    counted: bool
    reason: str | None


async def record_visit(
    session: AsyncSession,
    *,
    code: str,
    now: datetime,
    user_agent: str | None,
    visitor: str,
) -> Visit | None:
    """Record a visit of `code` and say where to redirect; None for an unknown code. A cancelled or
    deleted post still redirects (the link is already out in the world) but no longer counts."""
    found = (
        await session.execute(
            select(TrackedLink, Post.url, Post.state)
            .join(Post, Post.id == TrackedLink.post_id)
            .where(TrackedLink.code == code)
        )
    ).first()
    if found is None:
        return None
    link, url, state = found
    reason: str | None = None
    if is_crawler(user_agent):
        reason = "crawler"
    elif state is PostState.CANCELLED:
        reason = "cancelled"
    else:
        repeat = await session.scalar(
            select(Click.id)
            .where(
                Click.workspace_id == link.workspace_id,
                Click.link_id == link.id,
                Click.visitor == visitor,
                Click.counted.is_(True),
                Click.at > now - REPEAT_WINDOW,
            )
            .limit(1)
        )
        if repeat is not None:
            reason = "repeat"
    session.add(
        Click(
            workspace_id=link.workspace_id,
            link_id=link.id,
            at=now,
            counted=reason is None,
            reason=reason,
            visitor=visitor,
        )
    )
    await session.commit()
    return Visit(
        location=destination_url(url, network=link.network.value, post_id=link.post_id),
        counted=reason is None,
        reason=reason,
    )
