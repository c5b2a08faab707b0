"""`python -m bot.demo.generate`, as the dashboard's benchmark (and a demo's data) runs it: the rows asked
for, in a database it migrates itself, and figures that make sense on the dashboard."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bot import db
from bot.services import analytics
from models import Click, Member, Post, Share, Workspace
from tests.conftest import run_in_thread

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def test_the_generator_fills_a_workspace_the_dashboard_can_read(tmp_path: Path) -> None:
    url = db.normalize_database_url(f"sqlite:///{tmp_path / 'generated.db'}")
    arguments = ["--members", "60", "--shares", "500", "--clicks", "700", "--posts", "12", "--weeks", "8"]
    result = run_in_thread(
        lambda: subprocess.run(
            [
                sys.executable,
                "-m",
                "bot.demo.generate",
                "--database-url",
                url,
                *arguments,
                "--now",
                NOW.isoformat(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    )
    assert result.returncode == 0, result.stderr
    assert "shares: 500 rows" in result.stdout
    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session:
            workspace = await session.scalar(
                select(Workspace.id).where(Workspace.external_id == "TGENERATED")
            )
            assert workspace is not None
            counts = [
                await session.scalar(select(func.count()).select_from(m))
                for m in (Member, Post, Share, Click)
            ]
            assert counts == [60, 12, 500, 700]
            latest = await session.scalar(select(func.max(Share.created_at)))
            assert latest is not None
            assert latest <= NOW
            found = await analytics.dashboard(session, analytics.Scope(workspace, 12, NOW))
        assert sum(sum(week.shares.values()) for week in found.weeks) > 0
        assert all(week.participation is None or week.participation <= 1 for week in found.weeks)
        assert len(found.advocates) == analytics.TOP_ADVOCATES
    finally:
        await engine.dispose()
