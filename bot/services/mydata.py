"""Everything Relais holds about one member, as one JSON document (`/relais mydata`, `GET /me/data`): the
answer to "what do you hold on me?" (GDPR articles 15 and 20).

The document is versioned (`FORMAT`, `VERSION`) and its shape is documented in the README ("Your data").
It is read in one read transaction, every query scoped to the member's workspace and to the member, and
it selects the columns it shows, never whole rows: no visitor's hash or address, no token (plain or
encrypted), no sign-in secret, and nothing about another person (who approved a suggestion, what an
outbox message said to others) is ever read. What an export (`bot.services.export`) has of the member
is all here, with the same values: their member row, their shares, the posts they queued, and each click
row on their links (its moment, whether it counted, how many clicks it stands for; never who clicked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import String, cast, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbox
from bot.services.erasure import whole_id
from bot.services.members import hold_live
from bot.services.scores import share_counts
from models import (
    Click,
    ConversationRef,
    DashboardMemberWeek,
    Dismissal,
    Member,
    OAuthAttempt,
    OutboxMessage,
    OutboxState,
    PointsRefresh,
    Post,
    SentFile,
    SettledPoints,
    Share,
    SocialAccount,
    Suggestion,
    TrackedLink,
    VisitTally,
    WebSession,
    Workspace,
)

FORMAT: Final = "relais-mydata"
VERSION: Final = 1
# The dashboard's week numbers count whole weeks from this Monday (`models.dashboard`).
_FIRST_MONDAY: Final = date(1970, 1, 5)


def file_name(now: datetime) -> str:
    """The file's name: `relais-mydata-<UTC date>.json`."""
    return f"relais-mydata-{now.astimezone(UTC).date().isoformat()}.json"


@dataclass(frozen=True)
class Counts:
    """What the readable summary says of a document."""

    shares: int
    clicks: int
    links: int
    not_for_me: int
    messages: int
    suggestions: int
    connections: int


def counts(document: Mapping[str, Any]) -> Counts:
    """The summary's figures, read from the document itself (so the summary and the file agree)."""
    return Counts(
        shares=len(document["shares"]),
        clicks=sum(
            click["clicks"] for link in document["links"] for click in link["clicks"] if click["counted"]
        ),
        links=len(document["links"]),
        not_for_me=len(document["not_for_me"]),
        messages=sum(message["state"] == OutboxState.SENT.value for message in document["messages_received"]),
        suggestions=len(document["suggestions"]),
        connections=len(document["connections"]),
    )


async def remember_files(
    session: AsyncSession, *, workspace_id: int, member_id: int, file_ids: Sequence[str], now: datetime
) -> bool:
    """Keep the ids of the files the platform holds for the member (their copy of this document), so that
    erasing them deletes the files there too (`bot.services.erasure`). The member is held against an
    erasure until the caller commits (`members.hold_live`): an erasure claiming them later finds the rows.
    False when the member was erased meanwhile (the file went up while the erasure ran): no erasure will
    delete those files, the caller does (`erasure.forget_files` once they are gone); their ids are kept
    all the same, on the erased placeholder, as the ids of files the platform failed to delete are, for
    the clock to try again (`erasure.delete_left_files`)."""
    live = bool(await hold_live(session, [(workspace_id, member_id)]))
    session.add_all(
        SentFile(workspace_id=workspace_id, member_id=member_id, file_id=file_id, created_at=now)
        for file_id in file_ids
    )
    return live


async def member_data(
    session: AsyncSession, *, workspace_id: int, member_id: int, base_url: str, now: datetime
) -> dict[str, Any] | None:
    """The member's document, or None when no such member is in that workspace. `base_url` makes their
    personal links whole (`PUBLIC_URL/r/<code>`). The session must be fresh: the reads run in one
    transaction that sees one moment of the database (`one_snapshot`); nothing is written."""
    await one_snapshot(session)
    found = (
        await session.execute(
            select(Member, Workspace)
            .join(Workspace, Workspace.id == Member.workspace_id)
            .where(Member.id == member_id, Member.workspace_id == workspace_id)
        )
    ).one_or_none()
    if found is None:
        return None
    member, workspace = found
    destinations = await outbox.destinations_of(session, workspace_id=workspace_id, member=member.external_id)
    scope = _Scope(workspace_id, member_id, member.external_id, frozenset(destinations))
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": _plain(now),
        "workspace": {"platform": workspace.platform, "id": workspace.external_id, "name": workspace.name},
        "profile": _profile(member),
        "shares": await _shares(session, scope),
        "links": await _links(session, scope, base_url),
        "not_for_me": await _dismissals(session, scope),
        "messages_received": await _messages(session, scope),
        "mentioned_in": await _mentions(session, scope),
        "suggestions": await _suggestions(session, scope),
        "suggestions_decided": await _decisions(session, scope),
        "connections": await _connections(session, scope),
        "connection_attempts": await _attempts(session, scope),
        "web_sessions": await _web_sessions(session, scope),
        "posts_queued": await _posts(session, scope),
        "chat_reference": await _reference(session, scope),
        "points": await _points(session, scope),
        "weekly_totals": await _weekly(session, scope),
    }


async def one_snapshot(session: AsyncSession) -> None:
    """Make the session's reads one consistent picture. PostgreSQL: a read-only REPEATABLE READ
    transaction (every statement sees the snapshot of the first). SQLite: an explicit deferred BEGIN,
    whose first read fixes the snapshot (WAL) until the session ends; Python's sqlite3 would otherwise
    run each SELECT outside any transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    else:
        await session.execute(text("BEGIN"))


@dataclass(frozen=True)
class _Scope:
    workspace_id: int
    member_id: int
    external_id: str
    destinations: frozenset[str]  # the member's id and their private chats' (`outbox.destinations_of`)


def _plain(value: Any) -> Any:
    """Values as JSON has them: ISO 8601 UTC times, enum values."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


def _rows(result: Any, names: Sequence[str]) -> list[dict[str, Any]]:
    return [dict(zip(names, (_plain(value) for value in row), strict=True)) for row in result]


def _profile(member: Member) -> dict[str, Any]:
    return {
        "member": member.external_id,
        "name": member.display_name,
        "locale": member.locale,
        "timezone": member.timezone,
        "language": member.language,
        "admin": member.is_admin,
        "admin_checked_at": _plain(member.admin_checked_at),
        "active": member.active,
        "opted_out": member.opted_out,
        "paused_until": _plain(member.paused_until),
        "nudges_unanswered": member.nudges_unanswered,
        "last_nudged_at": _plain(member.last_nudged_at),
        "created_at": _plain(member.created_at),
        "updated_at": _plain(member.updated_at),
    }


_SHARE_FIELDS: Final = (
    "post_id",
    "url",
    "title",
    "network",
    "channel",
    "status",
    "counted",
    "caption",
    "external_id",
    "external_url",
    "error",
    "attempts",
    "posted_at",
    "intent_at",
    "created_at",
    "updated_at",
)


async def _shares(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    result = await session.execute(
        select(
            Share.post_id,
            Post.url,
            Post.title,
            Share.network,
            Share.channel,
            Share.status,
            share_counts(),
            Share.caption,
            Share.external_id,
            Share.external_url,
            Share.error,
            Share.attempts,
            Share.posted_at,
            Share.intent_at,
            Share.created_at,
            Share.updated_at,
        )
        .join(Post, (Post.id == Share.post_id) & (Post.workspace_id == Share.workspace_id))
        .where(Share.workspace_id == scope.workspace_id, Share.member_id == scope.member_id)
        .order_by(Share.id)
    )
    return _rows(result, _SHARE_FIELDS)


async def _links(session: AsyncSession, scope: _Scope, base_url: str) -> list[dict[str, Any]]:
    """Each personal link with its click rows as the clicks export has them (`at`, `counted`, and
    `clicks`: how many clicks the row stands for; clicks older than RELAIS_RETENTION_DAYS are kept as one
    row per link and week, `at` its start, `bot.services.retention`), never the visitor's key; and the
    visits that were never clicks (robots, repeats, a withdrawn post), counted per hour."""
    links = (
        await session.execute(
            select(
                TrackedLink.id,
                TrackedLink.post_id,
                TrackedLink.network,
                TrackedLink.code,
                TrackedLink.created_at,
            )
            .where(TrackedLink.workspace_id == scope.workspace_id, TrackedLink.member_id == scope.member_id)
            .order_by(TrackedLink.id)
        )
    ).all()
    ids = [link.id for link in links]
    clicks: dict[int, list[dict[str, Any]]] = {link_id: [] for link_id in ids}
    tallies: dict[int, list[dict[str, Any]]] = {link_id: [] for link_id in ids}
    if ids:
        found = await session.execute(
            select(Click.link_id, Click.at, Click.counted, Click.clicks)
            .join(TrackedLink, TrackedLink.id == Click.link_id)
            .where(
                Click.workspace_id == scope.workspace_id,
                TrackedLink.workspace_id == scope.workspace_id,
                TrackedLink.member_id == scope.member_id,
            )
            .order_by(Click.id)
        )
        for link_id, at, counted, many in found:
            clicks[link_id].append({"at": _plain(at), "counted": counted, "clicks": many})
        visits = await session.execute(
            select(
                VisitTally.link_id,
                VisitTally.hour,
                VisitTally.robots,
                VisitTally.repeats,
                VisitTally.withdrawn,
            )
            .join(TrackedLink, TrackedLink.id == VisitTally.link_id)
            .where(
                VisitTally.workspace_id == scope.workspace_id,
                TrackedLink.workspace_id == scope.workspace_id,
                TrackedLink.member_id == scope.member_id,
            )
            .order_by(VisitTally.link_id, VisitTally.hour)
        )
        for link_id, hour, robots, repeats, withdrawn in visits:
            tallies[link_id].append(
                {"hour": _plain(hour), "robots": robots, "repeats": repeats, "withdrawn": withdrawn}
            )
    return [
        {
            "post_id": link.post_id,
            "network": _plain(link.network),
            "url": f"{base_url}/r/{link.code}",
            "created_at": _plain(link.created_at),
            "clicks": clicks[link.id],
            "visits_not_counted": tallies[link.id],
        }
        for link in links
    ]


async def _dismissals(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    result = await session.execute(
        select(Dismissal.post_id, Post.url, Post.title, Dismissal.created_at)
        .join(Post, (Post.id == Dismissal.post_id) & (Post.workspace_id == Dismissal.workspace_id))
        .where(Dismissal.workspace_id == scope.workspace_id, Dismissal.member_id == scope.member_id)
        .order_by(Dismissal.id)
    )
    return _rows(result, ("post_id", "url", "title", "at"))


# What the document says of an outbox message: what kind, when, and how it went; never what it said.
_SENT: Final = (OutboxMessage.kind, OutboxMessage.state, OutboxMessage.created_at, OutboxMessage.sent_at)
_SENT_NAMES: Final = ("kind", "state", "created_at", "sent_at")


async def _outbox_rows(session: AsyncSession, scope: _Scope, *where: Any, also: Sequence[Any] = ()) -> Any:
    """The workspace's outbox rows matching `where`, as `_SENT` (then `also`), oldest first."""
    return await session.execute(
        select(*_SENT, *also)
        .where(OutboxMessage.workspace_id == scope.workspace_id, *where)
        .order_by(OutboxMessage.id)
    )


async def _messages(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    """The messages Relais sent (or will send) to the member alone, to their id or to their private chat
    (`outbox.destinations_of`: a reminder's edits go to the chat it landed in): what kind, when, and how
    it went; not what they said (a message addressed to them may quote a colleague, a board names
    others)."""
    found = await _outbox_rows(session, scope, OutboxMessage.destination.in_(sorted(scope.destinations)))
    return _rows(found, _SENT_NAMES)


async def _mentions(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    """Messages to others that name the member (a channel's leaderboard, an admin's review of their
    suggestion): what kind and when; not what they said (it names others too) nor to whom (an admin is
    someone else). The SQL is a first cut (the id anywhere in the payload's text), checked again on the
    parsed JSON."""
    found = await _outbox_rows(
        session,
        scope,
        OutboxMessage.destination.not_in(sorted(scope.destinations)),
        cast(OutboxMessage.payload, String).contains(scope.external_id, autoescape=True),
        also=(OutboxMessage.payload,),
    )
    return _rows([sent for *sent, payload in found if _names(payload, scope.external_id)], _SENT_NAMES)


def _names(value: Any, external_id: str) -> bool:
    """Whether JSON `value` holds the member's id in one of its strings (a key or a value), as a whole id
    (`UEMP2` is not in `UEMP21`)."""
    if isinstance(value, str):
        return whole_id(external_id).search(value) is not None
    if isinstance(value, dict):
        return any(_names(key, external_id) or _names(item, external_id) for key, item in value.items())
    if isinstance(value, list):
        return any(_names(item, external_id) for item in value)
    return False


async def _theirs(
    session: AsyncSession, scope: _Scope, owner: Any, fields: Sequence[str | tuple[str, Any]]
) -> list[dict[str, Any]]:
    """The workspace's rows whose `owner` column (`Model.member_id`, or another naming a member) is the
    member, oldest first, each with `fields`: the owner's model's columns of those names, or (name,
    column) pairs where the document names a column otherwise. Only those columns are read."""
    table = owner.class_
    named = [(field, getattr(table, field)) if isinstance(field, str) else field for field in fields]
    result = await session.execute(
        select(*(column for _, column in named))
        .where(table.workspace_id == scope.workspace_id, owner == scope.member_id)
        .order_by(table.id)
    )
    return _rows(result, [name for name, _ in named])


async def _suggestions(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    """The member's suggestions; who decided is an admin's data, left out."""
    fields = ("id", "url", "reason", "state", "post_id", "created_at", "decided_at")
    return await _theirs(session, scope, Suggestion.member_id, fields)


async def _decisions(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    """Suggestions the member decided on as an admin: the decision only (what was suggested, by whom,
    is the suggester's)."""
    return await _theirs(session, scope, Suggestion.decided_by_id, ("id", "state", "decided_at"))


async def _connections(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    """The member's social accounts: which network, their account's id there, and dates. Never a token
    (the token columns are not even read)."""
    account = ("account", SocialAccount.external_person_id)
    fields = (
        "network",
        "status",
        account,
        "scopes",
        "created_at",
        "updated_at",
        "expires_at",
        "expiry_warned_at",
    )
    return await _theirs(session, scope, SocialAccount.member_id, fields)


async def _attempts(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    """Connections begun (a personal connect link, then the network's consent page); not their one-time
    secrets."""
    fields = ("network", "created_at", "expires_at", "started_at", "finished_at", "outcome")
    return await _theirs(session, scope, OAuthAttempt.member_id, fields)


async def _web_sessions(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    """Browsers signed in as the member: when, until when; not the session's secrets."""
    return await _theirs(session, scope, WebSession.member_id, ("created_at", "expires_at", "last_seen"))


async def _posts(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    """Posts the member queued (as an admin): the posts export's rows whose `created_by` is them."""
    fields = ("id", "url", "title", "state", "publish_at", "expires_at", "channels", "networks", "created_at")
    return await _theirs(session, scope, Post.created_by_id, fields)


async def _reference(session: AsyncSession, scope: _Scope) -> dict[str, Any] | None:
    """Where the platform lets Relais write to the member first (Teams keeps one per person)."""
    found = (
        await session.execute(
            select(ConversationRef.reference, ConversationRef.updated_at).where(
                ConversationRef.workspace_id == scope.workspace_id, ConversationRef.key == scope.external_id
            )
        )
    ).one_or_none()
    if found is None:
        return None
    return {"reference": found.reference, "updated_at": _plain(found.updated_at)}


async def _points(session: AsyncSession, scope: _Scope) -> dict[str, Any] | None:
    """The member's points as the last ranking snapshot kept them (`bot.services.scores`)."""
    found = (
        await session.execute(
            select(SettledPoints.points, PointsRefresh.as_of)
            .join(PointsRefresh, PointsRefresh.workspace_id == SettledPoints.workspace_id)
            .where(
                SettledPoints.workspace_id == scope.workspace_id, SettledPoints.member_id == scope.member_id
            )
        )
    ).one_or_none()
    if found is None:
        return None
    return {"points": found.points, "as_of": _plain(found.as_of)}


async def _weekly(session: AsyncSession, scope: _Scope) -> list[dict[str, Any]]:
    """The dashboard's weekly totals of the member (over every post: `channel` empty; and per channel)."""
    result = await session.execute(
        select(
            DashboardMemberWeek.week,
            DashboardMemberWeek.network,
            DashboardMemberWeek.channel,
            DashboardMemberWeek.shares,
            DashboardMemberWeek.clicks,
        )
        .where(
            DashboardMemberWeek.workspace_id == scope.workspace_id,
            DashboardMemberWeek.member_id == scope.member_id,
        )
        .order_by(DashboardMemberWeek.week, DashboardMemberWeek.network, DashboardMemberWeek.channel)
    )
    return [
        {
            "week": (_FIRST_MONDAY + timedelta(weeks=week)).isoformat(),
            "network": network,
            "channel": channel or None,
            "shares": shares,
            "clicks": clicks,
        }
        for week, network, channel, shares, clicks in result
    ]
