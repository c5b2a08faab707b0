"""Exports of shares, posts, clicks and members as rows for admins' BI tools (`relais export`).

Each export is one query joined to the workspace, streamed row by row so that millions of clicks do
not sit in memory. Columns are fixed per kind (an empty CSV still has its header).
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC as UTC_ZONE
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import IO, Any, Final

from sqlalchemy import Select, case, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.scores import share_counts
from models import Click, Member, Post, Share, TrackedLink, Workspace


class ExportKind(StrEnum):
    SHARES = "shares"
    POSTS = "posts"
    CLICKS = "clicks"
    MEMBERS = "members"


def _labelled(**columns: Any) -> tuple[Any, ...]:
    return tuple(column.label(name) for name, column in columns.items())


# What stands for a member who erased their data (`bot.services.erasure`): the same fixed word for all of
# them, so that their rows still count but tell nobody apart. Their shares and links have no member any
# more (`member_id` NULL, so the outer join finds none). A post they queued has no author any more either
# (`created_by_id` NULL): its `created_by` is empty, as for a post queued from the command line.
ERASED_MEMBER: Final = "erased"
_member = case((Member.erased_at.is_not(None), literal(ERASED_MEMBER)), else_=Member.external_id)
_member_or_nobody = case(
    (Member.id.is_(None) | Member.erased_at.is_not(None), literal(ERASED_MEMBER)), else_=Member.external_id
)


_SELECTS: Final[dict[ExportKind, tuple[Any, ...]]] = {
    ExportKind.SHARES: _labelled(
        post_id=Share.post_id,
        url=Post.url,
        member=_member_or_nobody,
        platform=Workspace.platform,
        workspace=Workspace.external_id,
        network=Share.network,
        channel=Share.channel,
        status=Share.status,
        external_id=Share.external_id,
        external_url=Share.external_url,
        created_at=Share.created_at,
        updated_at=Share.updated_at,
        counted=share_counts(),
    ),
    ExportKind.POSTS: _labelled(
        id=Post.id,
        url=Post.url,
        title=Post.title,
        state=Post.state,
        publish_at=Post.publish_at,
        expires_at=Post.expires_at,
        channels=Post.channels,
        networks=Post.networks,
        created_by=_member,
        platform=Workspace.platform,
        workspace=Workspace.external_id,
        created_at=Post.created_at,
    ),
    ExportKind.CLICKS: _labelled(
        post_id=TrackedLink.post_id,
        member=_member_or_nobody,
        network=TrackedLink.network,
        at=Click.at,
        counted=Click.counted,
        platform=Workspace.platform,
        workspace=Workspace.external_id,
        # How many clicks the row stands for: 1, or a link's week of clicks once older than
        # RELAIS_RETENTION_DAYS (`at` then the week's start; `bot.services.retention`).
        clicks=Click.clicks,
    ),
    ExportKind.MEMBERS: _labelled(
        member=_member,
        platform=Workspace.platform,
        workspace=Workspace.external_id,
        name=Member.display_name,
        locale=Member.locale,
        opted_out=Member.opted_out,
        created_at=Member.created_at,
    ),
}

COLUMNS: Final[dict[ExportKind, tuple[str, ...]]] = {
    kind: tuple(column.name for column in columns) for kind, columns in _SELECTS.items()
}


def _shares(since: datetime | None) -> Select[Any]:
    query = (
        select(*_SELECTS[ExportKind.SHARES])
        .select_from(Share)
        .join(Post, (Post.id == Share.post_id) & (Post.workspace_id == Share.workspace_id))
        .outerjoin(Member, (Member.id == Share.member_id) & (Member.workspace_id == Share.workspace_id))
        .join(Workspace, Workspace.id == Share.workspace_id)
        .order_by(Share.id)
    )
    return query.where(Share.created_at >= since) if since else query


def _posts(since: datetime | None) -> Select[Any]:
    query = (
        select(*_SELECTS[ExportKind.POSTS])
        .select_from(Post)
        .outerjoin(Member, (Member.id == Post.created_by_id) & (Member.workspace_id == Post.workspace_id))
        .join(Workspace, Workspace.id == Post.workspace_id)
        .order_by(Post.id)
    )
    return query.where(Post.created_at >= since) if since else query


def _clicks(since: datetime | None) -> Select[Any]:
    same_workspace = TrackedLink.workspace_id == Click.workspace_id
    query = (
        select(*_SELECTS[ExportKind.CLICKS])
        .select_from(Click)
        .join(TrackedLink, (TrackedLink.id == Click.link_id) & same_workspace)
        .outerjoin(Member, (Member.id == TrackedLink.member_id) & (Member.workspace_id == Click.workspace_id))
        .join(Workspace, Workspace.id == Click.workspace_id)
        .order_by(Click.id)
    )
    if since is None:
        return query
    # A week's folded row (`bot.services.retention`, no hour) is dated at its Monday (or the 1st of January):
    # from a day within the week on, it is exported whole rather than left out.
    day = since.date()
    week = datetime.combine(
        max(day - timedelta(days=day.weekday()), date(day.year, 1, 1)), time.min, UTC_ZONE
    )
    return query.where(or_(Click.at >= since, Click.hour.is_(None) & Click.counted & (Click.at >= week)))


def _members(since: datetime | None) -> Select[Any]:
    query = (
        select(*_SELECTS[ExportKind.MEMBERS])
        .select_from(Member)
        .join(Workspace, Workspace.id == Member.workspace_id)
        .order_by(Member.id)
    )
    return query.where(Member.created_at >= since) if since else query


_QUERIES: Final[dict[ExportKind, Callable[[datetime | None], Select[Any]]]] = {
    ExportKind.SHARES: _shares,
    ExportKind.POSTS: _posts,
    ExportKind.CLICKS: _clicks,
    ExportKind.MEMBERS: _members,
}


async def export_rows(
    *,
    session: AsyncSession,
    kind: ExportKind,
    since: date | None = None,
    workspace: str | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield one dict per row, oldest first. `since` is a UTC date (inclusive); `workspace` the
    chat platform's team/tenant id, to export one workspace of several."""
    since_at = datetime.combine(since, time.min, tzinfo=UTC_ZONE) if since else None
    query = _QUERIES[kind](since_at)
    if workspace is not None:
        query = query.where(Workspace.external_id == workspace)
    columns = COLUMNS[kind]
    result = await session.stream(query.execution_options(yield_per=1000))
    async for row in result:
        yield dict(zip(columns, (_plain(value) for value in row), strict=True))


def _plain(value: Any) -> Any:
    """Values as JSON and CSV want them: ISO 8601 UTC times, enum values."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


async def write_json(rows: AsyncIterator[dict[str, Any]], out: IO[str]) -> int:
    """Write a JSON array of objects, one per line, without holding every row. Returns the count."""
    count = 0
    async for row in rows:
        out.write("[\n" if count == 0 else ",\n")
        out.write(json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("[]\n" if count == 0 else "\n]\n")
    return count


async def write_csv(rows: AsyncIterator[dict[str, Any]], out: IO[str], kind: ExportKind) -> int:
    """Write CSV with a header; lists become space-separated, booleans true/false, and text a spreadsheet
    would run as a formula is neutralised (see `_csv_cell`)."""
    # RFC 4180's CRLF: with it the csv module also quotes a field holding a lone CR, which would otherwise
    # end the row early in a spreadsheet (a display name can hold one).
    writer = csv.DictWriter(out, fieldnames=COLUMNS[kind], lineterminator="\r\n")
    writer.writeheader()
    count = 0
    async for row in rows:
        writer.writerow({key: _csv_cell(value) for key, value in row.items()})
        count += 1
    return count


def write_table(header: Sequence[str], rows: Iterable[Sequence[Any]], out: IO[str]) -> int:
    """Write a table of plain values (the dashboard's, `bot.admin_page`) as `write_csv` writes an export:
    same dialect, same formula-safe cells. Returns the row count."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
        count += 1
    return count


# A text cell starting with one of these is read as a formula by spreadsheets (OWASP: CSV injection).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """One CSV cell. Text comes from members and from the web (display names, page titles, URLs): one that
    starts like a formula (`=HYPERLINK(...)`) is prefixed with a single quote, so a spreadsheet shows it as
    text. Numbers and JSON exports are left as they are."""
    if isinstance(value, list):
        value = " ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
