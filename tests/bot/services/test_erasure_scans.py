"""The erasure's text searches (what names the member in boards, reviews, conversation references, kept
invoke answers) run before its write transaction: inside it, every statement that searches text is
limited to the rows found before and those added since, so that the write lock (on SQLite, the whole
database's) is never held across a scan of a whole table. What the searches found is still scrubbed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services import erasure, outbox
from bot.services import members as member_service
from models import OutboxMessage
from tests.erasure_scan import leftovers

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NAME = "Sam Scanned"


async def test_the_searches_run_before_the_transaction_and_inside_it_only_on_what_they_found(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        workspace = await member_service.ensure_workspace(
            session, platform="slack", external_id="TSCAN", now=NOW
        )
        member = await member_service.ensure_member(
            session, workspace=workspace, external_id="USCAN", now=NOW
        )
        member.display_name = NAME
        for week in range(30):  # boards, one naming Sam
            await outbox.enqueue(
                session,
                workspace_id=workspace.id,
                kind="leaderboard",
                destination="C0NEWS",
                payload={"entries": [{"name": NAME if week == 7 else f"Someone {week}", "id": "UOTHER"}]},
                now=NOW,
                dedupe_key=f"board:{week}",
            )
        await session.commit()
        target = await erasure.find_target(session, platform="slack", workspace="TSCAN", member="USCAN")
    assert target is not None

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        assert await erasure.erase_member(sessions, target, cipher=None, clients={}, now=NOW) is not None
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)

    [claim] = [i for i, sql in enumerate(statements) if sql.startswith("UPDATE member SET external_id")]
    before, inside = statements[:claim], statements[claim:]
    assert any("LIKE" in sql and sql.startswith("SELECT outbox.id FROM") for sql in before)
    searching = [sql for sql in inside if "LIKE" in sql]
    assert searching  # the rows found are looked at again
    for sql in searching:
        assert re.search(r"\.(id|key) IN \(|\.id > |\.claimed_at ", sql), sql
    assert await leftovers(sessions, ["USCAN", NAME]) == []
    async with sessions() as session:
        payloads = [row.payload for row in (await session.scalars(select(OutboxMessage))).all()]
    assert len(payloads) == 30
    assert sum(1 for p in payloads if p["entries"][0]["name"].startswith(erasure.ERASED_PREFIX)) == 1
