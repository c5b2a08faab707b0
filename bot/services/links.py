"""Tracked links (`PUBLIC_URL/r/<code>`): one per member × post × network, and the clicks they bring.

Clicks can only be counted through our own redirect (LinkedIn reports clicks for organisation posts
only), and a click is a point on the leaderboard, so counting must resist whoever wants points:
- a visitor is an address (an IPv6 /64), never the User-Agent, which the client chooses; it counts
  once per link per UTC hour, enforced by a unique key so concurrent visits agree. The address itself is
  never stored: the click holds a keyed hash of it, keyed by a random salt of its UTC day and a secret of
  the install kept outside the database (`DailySalts`); the salt is deleted once the day is over
  (`bot.services.retention`), so that nobody can tell later, even with the database and every secret of
  the install, whose visits they were;
- link-preview robots, repeats and visits of a withdrawn post are not rows but counters per link and
  hour (`VisitTally`), so they cannot grow the database one row per request;
- `VisitCounter` rate-limits per address and per link in process memory (`bot.ratelimit`): beyond the
  limits a visit is neither counted nor stored — the visitor is still sent to the article, from memory
  when this process already knows the link — and only a flood of unknown links gets 429;
- a slow or failing database delays nobody: the visitor is redirected after `DB_SECONDS` when the link
  is known, and gets 429 with Retry-After otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import insert_ignoring_conflicts
from bot.ratelimit import TokenBuckets
from bot.services.members import hold_live
from models import Click, Member, Network, Post, PostState, TrackedLink, VisitorSalt, VisitTally

logger = logging.getLogger(__name__)

CODE_BYTES: Final = 12  # 96 random bits, url-safe base64: 16 characters
SALT_BYTES: Final = 32  # a day's salt of visitors' keys
UTM_MEDIUM: Final = "employee_advocacy"

# Rate limits of `/r/<code>` (capacity, tokens per second), per web process. A person opens a link a
# few times; 20 visits at once then one every 3 s per address is far above that and still lets a shared
# office address through. Per link, 30 then one every 2 s: more counted clicks than `CLICK_CAP` gives
# points for in a week, within a minute. Looking up unknown links without counting is cheaper (one
# read), so an address may do that more often before it is told to wait (429).
COUNT_PER_ADDRESS: Final = (20.0, 1 / 3)
COUNT_PER_LINK: Final = (30.0, 1 / 2)
LOOKUP_PER_ADDRESS: Final = (120.0, 2.0)
KNOWN_LINKS: Final = 10_000  # code → destination kept in memory to answer limited visits
LIMIT_LOG_SECONDS: Final = 60.0
DB_SECONDS: Final = 2.0  # a visitor waits at most this for the database before being redirected anyway
MAX_PENDING: Final = 100  # database visits still running (slow database) beyond which none is started
UNAVAILABLE_RETRY_SECONDS: Final = 30

ROBOT: Final = "robot"
REPEAT: Final = "repeat"
WITHDRAWN: Final = "withdrawn"
LIMITED: Final = "limited"
UNCONFIRMED: Final = "unconfirmed"  # the database was slow or failed: may or may not be counted
ERASED: Final = "erased"  # the link's member erased their data: it stands for nobody, nothing is kept
_TALLY_COLUMN: Final = {ROBOT: "robots", REPEAT: "repeats", WITHDRAWN: "withdrawn"}

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


def share_url(base_url: str, code: str, *, caption: str | None = None, channel: str | None = None) -> str:
    """The member's Relais share link (`/s/<code>`, the same code as their tracked link): opening it
    counts their share and sends them to the network's share page (`bot.flows.share_links`). `caption`
    is words of their own (Edit & share) for that page instead of their caption variant; `channel` the
    channel whose post card gave the link (`c`: recorded on the share if it is one the post was pushed to)."""
    url = f"{base_url.rstrip('/')}/s/{code}"
    query = {key: value for key, value in (("text", caption), ("c", channel)) if value}
    return f"{url}?{urlencode(query)}" if query else url


def destination_url(post_url: str, *, network: str, post_id: int) -> str:
    """The post's URL with utm_source/medium/campaign set; the rest of its query is kept."""
    parts = urlsplit(post_url)
    ours = {"utm_source", "utm_medium", "utm_campaign"}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    query += [("utm_source", network), ("utm_medium", UTM_MEDIUM), ("utm_campaign", f"relais-{post_id}")]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def link_for(
    session: AsyncSession, *, workspace_id: int, post_id: int, member_id: int, network: Network, now: datetime
) -> TrackedLink | None:
    """The member's link for this post and network, created on first use (concurrent calls agree). None
    when the member erased their data meanwhile: a link made then would point at their placeholder row,
    which an erasure leaves holding nothing (`bot.services.erasure`), so it is made only while the member
    is held live (`members.hold_live`; the caller commits)."""
    key = (
        (TrackedLink.post_id == post_id)
        & (TrackedLink.member_id == member_id)
        & (TrackedLink.network == network)
    )
    existing = await session.scalar(select(TrackedLink).where(TrackedLink.workspace_id == workspace_id, key))
    if existing is not None:
        return existing
    if not await hold_live(session, [(workspace_id, member_id)]):
        return None
    row = {
        "workspace_id": workspace_id,
        "post_id": post_id,
        "member_id": member_id,
        "network": network,
        "code": new_code(),
        "created_at": now,
    }
    await session.execute(insert_ignoring_conflicts(session, TrackedLink.__table__, [row]))
    return (
        await session.scalars(select(TrackedLink).where(TrackedLink.workspace_id == workspace_id, key))
    ).one()


@dataclass(frozen=True)
class ShareTarget:
    """What a share link (`/s/<code>`) stands for: the member, the post and the network, and what the
    share page needs (the post's captions, whether it can still be shared there)."""

    workspace_id: int
    member_id: int | None  # None: the member erased their data (the link stands for nobody)
    post_id: int
    network: Network
    captions: tuple[str, ...]
    shareable: bool
    channels: tuple[str, ...] = ()  # the channels the post was pushed to


async def share_target(session: AsyncSession, code: str) -> ShareTarget | None:
    """The tracked link behind `code` and its post, in one read; None for an unknown code."""
    found = (
        await session.execute(
            select(
                TrackedLink.workspace_id,
                TrackedLink.member_id,
                TrackedLink.post_id,
                TrackedLink.network,
                Post.state,
                Post.networks,
                Post.captions,
                Post.channels,
            )
            .join(Post, Post.id == TrackedLink.post_id)
            .where(TrackedLink.code == code)
        )
    ).first()
    if found is None:
        return None
    workspace_id, member_id, post_id, network, state, networks, captions, channels = found
    return ShareTarget(
        workspace_id=workspace_id,
        member_id=member_id,
        post_id=post_id,
        network=network,
        captions=tuple(captions or ()),
        channels=tuple(channels or ()),
        shareable=state is PostState.PUBLISHED and network.value in (networks or ()),
    )


def is_crawler(user_agent: str | None) -> bool:
    return not user_agent or CRAWLERS.search(user_agent) is not None


def visitor_address(address: str | None) -> str:
    """The part of an address that stands for one visitor: the IPv4 address, or the IPv6 /64 (a home
    or a phone gets a whole /64, so single IPv6 addresses would let one visitor count 2^64 times)."""
    if not address:
        return "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))  # drops any %scope too
    return str(ip)


def visitor_key(secret: bytes, *, address: str | None) -> str:
    """A keyed hash standing for one visitor (their address, see `visitor_address`); the address itself
    is never stored. Whoever calls this chooses the key: a click's is its UTC day's key (`DailySalts`),
    which fits since clicks are deduplicated within UTC hours, which never straddle midnight; the rate
    limits' is a random key of the process (they live in its memory only)."""
    return hmac.new(secret, visitor_address(address).encode(), hashlib.sha256).hexdigest()[:32]


async def salt_of(session: AsyncSession, day: date) -> bytes:
    """The salt of `day`'s visitor keys, made on first use: `INSERT … ON CONFLICT DO NOTHING` then read, so
    that every web process agrees on it. Commits when it made one (a short transaction of its own)."""
    found = await session.scalar(select(VisitorSalt.salt).where(VisitorSalt.day == day))
    if found is not None:
        return found
    made = {"day": day, "salt": secrets.token_bytes(SALT_BYTES)}
    await session.execute(insert_ignoring_conflicts(session, VisitorSalt.__table__, [made]))
    await session.commit()
    return (await session.scalars(select(VisitorSalt.salt).where(VisitorSalt.day == day))).one()


def day_key(secret: bytes, salt: bytes) -> bytes:
    """The key of one day's visitor keys: its salt (in the database) keyed by a secret of the install (never
    in the database), so that a copy of the database alone cannot tell which address a key stands for, and
    once the salt is deleted nobody can."""
    return hmac.new(secret, b"relais-visitor-day:" + salt, hashlib.sha256).digest()


class DailySalts:
    """The current UTC day's key of visitors' keys (`day_key`), its salt read from the database once a day
    per process and kept in memory (only that day's: an older one is forgotten as soon as a day has gone
    by). The retention job makes each day's salt ahead of time, so that midnight is only a read."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, secret: bytes) -> None:
        self._sessions = sessions
        self._secret = secret
        self._day: date | None = None
        self._key = b""
        self._lock = asyncio.Lock()

    async def key(self, at: datetime) -> bytes:
        """The key of the UTC day `at` falls in. Call it holding no connection: on a new day it takes one."""
        day = at.astimezone(UTC).date()
        if day != self._day:
            async with self._lock:  # one look-up per process when the day turns, not one per visit
                if day != self._day:
                    async with self._sessions() as session:
                        salt = await salt_of(session, day)
                    self._day, self._key = day, day_key(self._secret, salt)
        return self._key


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour `at` falls in: the window in which a visitor counts once."""
    return at.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Visit:
    """What `/r/<code>` does: where to send the visitor, whether the click counted, and if not, why
    (`ROBOT`, `REPEAT`, `WITHDRAWN`, `LIMITED`, `UNCONFIRMED`)."""

    location: str
    counted: bool
    reason: str | None


@dataclass(frozen=True)
class Refused:
    """No redirect, 429 with `retry_after` seconds: too many look-ups of unknown links from one address
    (`busy` False), or the database did not answer in time and this process does not know the link
    (`busy` True). Not a 503: no request gets a 5xx, and the visitor's client retries a 429 alike."""

    status: int
    retry_after: int
    busy: bool = False


@dataclass(frozen=True)
class LinkTarget:
    link_id: int
    workspace_id: int
    location: str
    withdrawn: bool
    erased: bool = False  # its member erased their data (`bot.services.erasure`)


async def _target(session: AsyncSession, code: str) -> LinkTarget | None:
    """The link behind `code` and where it leads. A cancelled or deleted post still redirects (the link
    is already out in the world) but no longer counts."""
    found = (
        await session.execute(
            select(
                TrackedLink.id,
                TrackedLink.workspace_id,
                TrackedLink.post_id,
                TrackedLink.network,
                Post.url,
                Post.state,
                TrackedLink.member_id,
                Member.erased_at,
            )
            .join(Post, Post.id == TrackedLink.post_id)
            # Outer: an erased member's link has no member (`bot.services.erasure`) and still redirects.
            .outerjoin(Member, Member.id == TrackedLink.member_id)
            .where(TrackedLink.code == code)
        )
    ).first()
    if found is None:
        return None
    link_id, workspace_id, post_id, network, url, state, member_id, erased_at = found
    location = destination_url(url, network=network.value, post_id=post_id)
    erased = member_id is None or erased_at is not None
    return LinkTarget(link_id, workspace_id, location, withdrawn=state is PostState.CANCELLED, erased=erased)


async def record_visit(
    session: AsyncSession, *, target: LinkTarget, now: datetime, user_agent: str | None, visitor: str
) -> str | None:
    """Count the click, or add the visit to its hour's tally; returns None when counted, else why not.
    One statement either way (plus one for a repeat); the caller commits."""
    hour = hour_of(now)
    reason: str | None
    if target.erased:
        return ERASED  # neither a click nor a tally: nothing about that person is kept any more
    if is_crawler(user_agent):
        reason = ROBOT
    elif target.withdrawn:
        reason = WITHDRAWN
    else:
        click = {
            "workspace_id": target.workspace_id,
            "link_id": target.link_id,
            "at": now,
            "hour": hour,
            "counted": True,
            "reason": None,
            "visitor": visitor,
        }
        inserted = await session.scalar(
            insert_ignoring_conflicts(session, Click.__table__, [click]).returning(Click.id)
        )
        if inserted is not None:
            return None
        reason = REPEAT
    await session.execute(_add_to_tally(session, target=target, hour=hour, column=_TALLY_COLUMN[reason]))
    return reason


def _add_to_tally(session: AsyncSession, *, target: LinkTarget, hour: datetime, column: str) -> Any:
    """`INSERT … ON CONFLICT (link_id, hour) DO UPDATE SET <column> = <column> + 1` in either dialect."""
    table: Table = VisitTally.__table__  # type: ignore[assignment]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row = {"workspace_id": target.workspace_id, "link_id": target.link_id, "hour": hour, column: 1}
    return (
        insert(table)
        .values(row)
        .on_conflict_do_update(index_elements=["link_id", "hour"], set_={column: table.c[column] + 1})
    )


class VisitCounter:
    """Everything `/r/<code>` decides, with its in-process rate limits (see the module docstring).

    Within the limits a visit costs one short transaction (look up the link, insert or tally). Beyond
    them it costs no database write: the visitor is redirected from memory when this process has seen
    the link, after one read otherwise, and is refused (429) only when the address also exceeds the
    look-up limit — so a flood inflates nobody's score and leaves the database to the share clicks.

    Database work is bounded by `DB_SECONDS` but never cancelled (cancelling waits for SQLite's lock
    anyway, and a click half-recorded is better finished): past the limit, or when the database fails,
    a known link still redirects, uncounted as far as the visitor knows, and an unknown one gets 429.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        salts: DailySalts,
        now: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._salts = salts
        self._limit_key = secrets.token_bytes(SALT_BYTES)  # the rate limits' (memory only)
        self._now = now
        self._count_by_address = TokenBuckets(capacity=COUNT_PER_ADDRESS[0], per_second=COUNT_PER_ADDRESS[1])
        self._count_by_link = TokenBuckets(capacity=COUNT_PER_LINK[0], per_second=COUNT_PER_LINK[1])
        self._lookups_by_address = TokenBuckets(
            capacity=LOOKUP_PER_ADDRESS[0], per_second=LOOKUP_PER_ADDRESS[1]
        )
        self._known: OrderedDict[str, str] = OrderedDict()
        self._running: set[asyncio.Task[Visit | None]] = set()
        self._limited_since_log = 0
        self._last_log: float | None = None

    async def visit(
        self, *, code: str, address: str | None, user_agent: str | None
    ) -> Visit | Refused | None:
        """Count (or not) a visit of `code` from `address`; None for an unknown code."""
        now = self._now()
        seconds = now.timestamp()
        limited = visitor_key(self._limit_key, address=address)
        known = self._known.get(code)
        if self._count_by_address.take(limited, seconds) > 0.0:
            if known is not None:
                return self._limited_visit(known, seconds)
            wait = self._lookups_by_address.take(limited, seconds)
            if wait > 0.0:
                return Refused(status=429, retry_after=max(1, math.ceil(wait)))
            return await self._bounded(code, self._look_up(code, seconds))
        if known is not None and self._count_by_link.take(code, seconds) > 0.0:
            return self._limited_visit(known, seconds)
        return await self._bounded(code, self._count(code, known, now, address, user_agent))

    async def _look_up(self, code: str, seconds: float) -> Visit | None:
        """Where `code` leads, without counting (one read)."""
        async with self._sessions() as session:
            target = await _target(session, code)
        if target is None:
            return None
        self._remember(code, target.location)
        return self._limited_visit(target.location, seconds)

    async def _count(
        self, code: str, known: str | None, now: datetime, address: str | None, user_agent: str | None
    ) -> Visit | None:
        seconds = now.timestamp()
        if known is None:
            # A code this process has not met: first whether it is a link at all, so that one that is not
            # changes nothing (not even the day's salt), nor does one that stands for nobody.
            async with self._sessions() as session:
                first = await _target(session, code)
            if first is None:
                return None
            if first.erased:
                self._remember(code, first.location)
                return Visit(first.location, counted=False, reason=ERASED)
        # Before the session: on a new day the salt takes a connection of its own, and a visit holding one
        # while waiting for another could starve the pool under load.
        visitor = visitor_key(await self._salts.key(now), address=address)
        async with self._sessions() as session:
            target = await _target(session, code)
            if target is None:
                return None
            self._remember(code, target.location)
            if known is None and self._count_by_link.take(code, seconds) > 0.0:
                return self._limited_visit(target.location, seconds)
            reason = await record_visit(
                session, target=target, now=now, user_agent=user_agent, visitor=visitor
            )
            await session.commit()
        return Visit(target.location, counted=reason is None, reason=reason)

    async def _bounded(self, code: str, work: Coroutine[Any, Any, Visit | None]) -> Visit | Refused | None:
        """Run `work` for at most `DB_SECONDS` (see the class docstring), at most `MAX_PENDING` at once."""
        if len(self._running) >= MAX_PENDING:
            work.close()
        else:
            task = asyncio.ensure_future(work)
            self._running.add(task)
            task.add_done_callback(self._finished)
            done, _ = await asyncio.wait({task}, timeout=DB_SECONDS)
            if task in done and task.exception() is None:
                return task.result()
        location = self._known.get(code)
        if location is None:
            return Refused(status=429, retry_after=UNAVAILABLE_RETRY_SECONDS, busy=True)
        return Visit(location, counted=False, reason=UNCONFIRMED)

    def _finished(self, task: asyncio.Task[Visit | None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # The type only: the message would carry the statement's parameters (link codes).
            logger.warning("tracked links: the database failed (%s); visit not counted", type(error).__name__)

    def _limited_visit(self, location: str, seconds: float) -> Visit:
        self._note_limited(seconds)
        return Visit(location, counted=False, reason=LIMITED)

    def _remember(self, code: str, location: str) -> None:
        self._known[code] = location
        self._known.move_to_end(code)
        if len(self._known) > KNOWN_LINKS:
            self._known.popitem(last=False)

    def _note_limited(self, seconds: float) -> None:
        """Tell the operator about floods, at most once a minute (no address in the log)."""
        self._limited_since_log += 1
        if self._last_log is None or seconds - self._last_log >= LIMIT_LOG_SECONDS:
            logger.warning(
                "tracked links: %d visit(s) over the rate limit, redirected without counting",
                self._limited_since_log,
            )
            self._limited_since_log = 0
            self._last_log = seconds
