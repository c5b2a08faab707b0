"""End to end with a real Teams client: the real `relais serve` (Teams alone, anonymous mode, SQLite in
a temporary folder) driven through the Microsoft 365 Agents Playground over the Playground's own HTTP
routes and WebSocket, and the real `relais jobs` and `relais export` commands.

Run by `python3 dev.py e2e` (which installs the Playground with npm first), and by `.ci/run`. Skipped
when Node.js or the Playground is missing, unless RELAIS_E2E=required (what `dev.py e2e` sets).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot import db, platforms
from bot.clock import FrozenClock
from bot.config import Settings
from scheduler import jobs
from tests.bot.test_cli import RELAIS, _environment, _wait_until_up
from tests.conftest import free_port
from tests.e2e.playground import Playground, Posted, missing, playground, texts

_why = missing()
if _why is not None:
    if os.environ.get("RELAIS_E2E") == "required":
        pytest.fail(f"the end-to-end test cannot run: {_why}", pytrace=False)
    pytest.skip(_why, allow_module_level=True)

# The company's article. Not a page served here: `relais serve` reads previews of public pages only
# (its SSRF rule refuses loopback and private addresses, and no setting exempts one), and a name under
# .invalid never resolves, so the preview is simply unavailable and the post shows the link itself.
ARTICLE = "https://news.example.invalid/relais-in-teams"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"  # a person, not a robot


@dataclass
class Relais:
    """The running `relais serve`: its URL, and the environment its commands share (the database)."""

    url: str
    environment: dict[str, str]

    async def command(self, *arguments: str) -> str:
        """Run `relais <arguments>` against the same database; returns what it printed."""
        process = await asyncio.create_subprocess_exec(
            RELAIS,
            *arguments,
            env=self.environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        return out.decode()

    async def clock_at(self, moment: datetime) -> None:
        """What `relais clock` sends when its clock reads `moment`: the outbox's job, run in this process
        with a clock stopped there (the command keeps real time for the outbox, and a reminder waits for
        its moment), through the notifier the clock uses for Teams."""
        settings = Settings(
            _env_file=None, database_url=self.environment["DATABASE_URL"], relais_teams_anonymous=True
        )
        engine = db.create_engine(settings.database_url)
        sessions = db.session_factory(engine)
        clock = FrozenClock(moment)
        try:
            chosen = platforms.configured(settings)
            ctx = jobs.Context(sessions, platforms.notifiers(chosen, settings, sessions, clock), clock.now)
            await jobs.run_job(ctx, "outbox")
        finally:
            await engine.dispose()

    async def export(self, kind: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(await self.command("export", kind, "--format", "json"))
        return rows


@pytest.fixture
async def relais(tmp_path: Path) -> AsyncIterator[Relais]:
    """`relais serve` for Teams alone in anonymous mode, on a migrated SQLite database of its own."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = _environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'relais.db'}",
        PORT=str(port),
        PUBLIC_URL=url,
        RELAIS_TEAMS_ANONYMOUS="true",
    )
    running = Relais(url, environment)
    await running.command("migrate")
    log = (tmp_path / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        RELAIS, "serve", env=environment, stdout=log, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await _wait_until_up(client, process)
        yield running
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
    served = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in served, served
    assert re.search(r" 5\d\d \d", served) is None, served  # the access log: no 5xx


@pytest.fixture
async def client(relais: Relais, tmp_path: Path) -> AsyncIterator[Playground]:
    folder = tmp_path / "playground"
    folder.mkdir()
    async with playground(f"{relais.url}/api/messages", free_port(), folder) as running:
        yield running


def in_(conversation: str, *words: str) -> Callable[[Posted], bool]:
    return lambda posted: posted.conversation == conversation and all(word in posted.text for word in words)


def button(posted: Posted, verb: str) -> dict[str, Any]:
    """The `Action.Execute` button of the message's card with this verb."""
    found = [a for a in actions(posted.cards) if a.get("type") == "Action.Execute" and a.get("verb") == verb]
    assert len(found) == 1, f"no single {verb} button in {posted.cards}"
    return found[0]


def actions(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if str(node.get("type", "")).startswith("Action.") else []
        return own + [a for value in node.values() for a in actions(value)]
    if isinstance(node, list):
        return [a for item in node for a in actions(item)]
    return []


def next_wednesday_morning(now: datetime) -> datetime:
    """10:00 UTC on the first Wednesday at least a day after `now`: the day after the weekly reminders'
    default moment (Tuesday 10:00), in working hours (the Playground's members are on UTC)."""
    day = now.date() + timedelta(days=1)
    while day.weekday() != 2:
        day += timedelta(days=1)
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


async def test_a_team_installs_relais_queues_a_post_shares_it_and_gets_reminded(
    relais: Relais, client: Playground
) -> None:
    alex = client.me  # installs Relais, so an admin
    megan = client.user(1)  # a member of the team

    # Installed in the team: the welcome card shows in its channel.
    await client.install(client.channel)
    await client.wait_for(in_(client.channel, "Relais is installed"))
    # Installed in Alex's personal chat: welcomed there too.
    seen = len(client.posted)
    await client.install(client.personal_chat)
    await client.wait_for(in_(client.personal_chat, "Relais is installed"), after=seen)
    (workspace,) = {row["workspace"] for row in await relais.export("members")}
    assert workspace == client.config["tenantId"]
    assert alex["aadObjectId"] in {row["member"] for row in await relais.export("members")}

    # The admin queues a link by @mentioning Relais in the channel: the post's card shows there.
    seen = len(client.posted)
    await client.say(client.channel, alex, f"queue {ARTICLE}", mention=True)
    card = await client.wait_for(
        lambda posted: posted.conversation == client.channel and _shares(posted), after=seen
    )
    (post,) = await relais.export("posts")
    assert post["url"] == ARTICLE
    assert post["state"] == "published"

    # A member presses Share on the card: Relais answers the card with her personal link.
    status, answer = await client.press(megan, card, button(card, "share_linkedin"))
    assert status == 200, answer
    assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
    assert "Here is your personal link to share on LinkedIn" in "\n".join(texts(answer["value"]))
    (personal_link,) = [a["url"] for a in actions(answer["value"]) if a.get("type") == "Action.OpenUrl"]
    assert megan["aadObjectId"] in {row["member"] for row in await relais.export("members")}

    # She opens it (twice: a second opening counts nothing more). The Relais link (PUBLIC_URL/s/<code>)
    # counts her share and leads to LinkedIn's share page; that page, which cannot be opened here,
    # carries her tracked link (PUBLIC_URL/r/<code>), which counts the click and leads to the article.
    assert personal_link.startswith(f"{relais.url}/s/")
    async with httpx.AsyncClient(timeout=10, headers={"User-Agent": BROWSER}) as browser:
        for _ in range(2):
            opened = await browser.get(personal_link)
            assert opened.status_code in (302, 303), opened.text
        share_page = opened.headers["Location"]
        assert share_page.startswith("https://www.linkedin.com/sharing/share-offsite/?")
        (tracked,) = parse_qs(urlsplit(share_page).query)["url"]
        assert tracked.startswith(f"{relais.url}/r/")
        visited = await browser.get(tracked)
    assert visited.status_code == 302
    assert visited.headers["Location"].startswith(ARTICLE)
    (click,) = await relais.export("clicks")
    assert (click["member"], click["network"], click["counted"]) == (megan["aadObjectId"], "linkedin", True)
    shares = [(row["member"], row["network"], row["status"]) for row in await relais.export("shares")]
    assert shares == [(megan["aadObjectId"], "linkedin", "intent")]

    # The weekly reminders, decided for a weekday morning, go out once the clock reaches it: every
    # member who has not shared this week (the team's six, less Megan) gets one reminder
    # card with the post, in their own 1:1 chat: Alex in the personal chat the Playground shows, the
    # others in the chats Relais opens with them (which the Playground receives but does not show).
    shown, received = len(client.posted), len(client.received)
    wednesday = next_wednesday_morning(datetime.now(UTC))
    made = await relais.command("jobs", "run", "nudges", "--at", wednesday.isoformat())
    due = 5
    assert f"{due} reminders; {due} waiting until {wednesday:%Y-%m-%d %H:%M} UTC" in made, made
    await relais.clock_at(wednesday)
    reminder = "recent post(s) you might like to share"
    (alex_reminder,) = await client.wait_for_all(in_(client.personal_chat, reminder), 1, after=shown)
    assert _shares(alex_reminder)
    reminders = await client.wait_received(lambda m: reminder in m.text, due, after=received)
    assert megan["id"] not in client.chats  # she shared: no reminder, so no chat opened for one
    assert len({m.conversation for m in reminders}) == due  # one each, each in a chat of their own
    await relais.clock_at(wednesday + timedelta(hours=1))  # the clock's next turns send nothing more
    assert len([m for m in client.received[received:] if reminder in m.text]) == due


def _shares(posted: Posted) -> bool:
    return any(a.get("verb") == "share_linkedin" for a in actions(posted.cards))
