"""Fault: PostgreSQL restarts while share clicks arrive.

A real `relais serve` on a private PostgreSQL (`tests.private_postgres`: the shared server is never
restarted), the fake Slack, and signed clicks on "Open my share link on X" from a different member each,
sent without pause from a few clients; mid-load the server is stopped (immediate: as in a crash, every
connection cut, recovery from the WAL at the next start), left down a moment, and started again. Then:

* every click is answered 200 (Slack shows "did not respond" otherwise), during the outage too;
* every member hears one answer: thanks (the share is counted), "still recording" (then thanks once
  written), or "something went wrong, nothing was changed, try again" while the database is away;
* no click acknowledged as counted is missing from the database afterwards, and each member has at most
  one share row;
* once the database is back, every new click is counted (the pool does not keep dead connections).

Runs wherever the PostgreSQL binaries are (in each of CI's suite runs: see `_bin_dir`), whatever
TEST_DATABASE_URL says: the database under test is always the private one.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import insert, select

from bot import db
from bot.demo.fake_slack import FakeSlack
from bot.demo.signing import signed_headers
from bot.i18n import t
from models import Member, Platform, Post, PostState, Share, Workspace
from tests.conftest import BOT_TOKEN, SETTINGS_VARIABLES, SIGNING_SECRET, free_port
from tests.private_postgres import PrivatePostgres, find_bin_dir, private_postgres

RELAIS: Final = str(Path(sys.executable).with_name("relais"))
TEAM: Final = "T0001"
CHANNEL: Final = "C0NEWS"
CLIENTS: Final = 4  # clicks in flight at once
BEFORE_SECONDS: Final = 1.0  # clicks before the stop
DOWN_SECONDS: Final = 1.5  # how long the database stays away
AFTER_SECONDS: Final = 1.5  # clicks after it is back
ANSWER_SECONDS: Final = 15.0  # deadline for every member's answer after the load
CLICK_TIMEOUT: Final = 5.0  # Slack gives up after 3 s; a click slower than 5 s fails the test anyway

THANKS: Final = t("en", "share_recorded", network=t("en", "network_x"))
STILL: Final = t("en", "share_still_recording", network=t("en", "network_x"))
TRY_AGAIN: Final = t("en", "something_went_wrong")


def _bin_dir() -> Path:
    """The PostgreSQL binaries, or a skip saying why; in CI (CI=true), which installs them, a failure."""
    found = find_bin_dir()
    if found is None:
        reason = "no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@dataclass
class Click:
    user: str
    sent: float  # time.monotonic() when sent
    status: int = 0  # 0: no HTTP answer at all


@dataclass
class Load:
    clicks: list[Click] = field(default_factory=list)
    running: bool = True


def _environment(**variables: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    environment.update(variables)
    return environment


async def _seed(url: str) -> None:
    """The workspace and one published post (id 1) shareable on X, pushed to #news."""
    now = datetime.now(UTC)
    engine = db.create_engine(url)
    try:
        async with engine.begin() as connection:
            workspace_id = await connection.scalar(
                insert(Workspace)
                .values(platform=Platform.SLACK, external_id=TEAM, name="Acme", settings={},
                        created_at=now, updated_at=now)
                .returning(Workspace.id)
            )  # fmt: skip
            await connection.execute(
                insert(Post).values(
                    workspace_id=workspace_id, url="https://acme.example/news/round", title="Acme grows",
                    captions=["We raised!"], networks=["x"], channels=[CHANNEL], state=PostState.PUBLISHED,
                    publish_at=now, published_at=now, created_at=now, updated_at=now,
                )
            )  # fmt: skip
    finally:
        await engine.dispose()


async def _shares_by_member(url: str) -> Counter[str]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            query = select(Member.external_id).join(Share, Share.member_id == Member.id)
            return Counter((await connection.execute(query)).scalars().all())
    finally:
        await engine.dispose()


def _click_request(fake: FakeSlack, user: str) -> tuple[bytes, dict[str, str]]:
    """A signed `block_actions` click on "Open my share link on X" under the post's card in #news."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "legacy",
        "container": {"type": "message", "message_ts": "1764200000.000100", "channel_id": CHANNEL,
                      "is_ephemeral": True},
        "trigger_id": "1111.2222.trigger",
        "team": {"id": TEAM, "domain": "acme"},
        "channel": {"id": CHANNEL, "name": "news"},
        "response_url": fake.response_url(user),
        "actions": [{
            "action_id": "open_share_x", "block_id": "b", "value": "1:x", "type": "button",
            "text": {"type": "plain_text", "text": "Open my share link"},
            "url": "https://x.com/intent/post", "action_ts": "1764200000.000200",
        }],
    }  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return body, signed_headers(SIGNING_SECRET, body, content_type="application/x-www-form-urlencoded")


@asynccontextmanager
async def _relais_serve(url: str, fake: FakeSlack, log: Path) -> AsyncIterator[httpx.AsyncClient]:
    """`relais migrate`, then `relais serve` on a free port (its output in `log`): a client for it."""
    env = _environment(DATABASE_URL=url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                       SLACK_API_URL=fake.api_url)  # fmt: skip
    migrate = await asyncio.create_subprocess_exec(RELAIS, "migrate", env=env)
    assert await asyncio.wait_for(migrate.wait(), 60) == 0
    await _seed(url)
    port = free_port()
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            RELAIS, "serve", env={**env, "PORT": str(port)}, stdout=output, stderr=output
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=CLICK_TIMEOUT) as client:
            deadline = time.monotonic() + 30
            while True:
                assert process.returncode is None, f"relais serve exited (its output: {log})"
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "relais serve did not come up in 30 s"
                await asyncio.sleep(0.1)
            yield client
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _clicker(client: httpx.AsyncClient, fake: FakeSlack, load: Load, prefix: str) -> None:
    """Click without pause, a new member each time, until the load stops."""
    number = 0
    while load.running:
        number += 1
        click = Click(user=f"U{prefix}{number:05d}", sent=time.monotonic())
        fake.add_user(click.user)  # a member of the workspace, as Slack's directory says after the ack
        load.clicks.append(click)
        body, headers = _click_request(fake, click.user)
        try:
            click.status = (await client.post("/slack/events", content=body, headers=headers)).status_code
        except httpx.TransportError:
            click.status = 0


async def _restart_under_load(
    pg: PrivatePostgres, client: httpx.AsyncClient, fake: FakeSlack
) -> tuple[Load, float]:
    """Clicks before, during and after a stop/start of the database: the load, and when it was back."""
    load = Load()
    clickers = [asyncio.create_task(_clicker(client, fake, load, chr(ord("A") + i))) for i in range(CLIENTS)]
    try:
        await asyncio.sleep(BEFORE_SECONDS)
        await asyncio.to_thread(pg.stop, "immediate")
        await asyncio.sleep(DOWN_SECONDS)
        await asyncio.to_thread(pg.start)
        back = time.monotonic()
        await asyncio.sleep(AFTER_SECONDS)
    finally:
        load.running = False
        await asyncio.wait_for(asyncio.gather(*clickers), CLICK_TIMEOUT + 5)
    return load, back


async def _answers(fake: FakeSlack, users: list[str]) -> dict[str, list[str]]:
    """Each member's answers, once every member has a final one (not "still recording"), or the deadline."""
    deadline = time.monotonic() + ANSWER_SECONDS
    while True:
        answers: dict[str, list[str]] = {user: [] for user in users}
        for response in fake.responses:
            if response["url_id"] in answers:
                answers[response["url_id"]].append(str(response.get("text")))
        if all(any(text != STILL for text in said) for said in answers.values()):
            return answers
        if time.monotonic() > deadline:
            return answers
        await asyncio.sleep(0.1)


async def test_a_database_restart_under_clicks_loses_no_acknowledged_click(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    bin_dir = _bin_dir()
    started = time.monotonic()
    with private_postgres(bin_dir=bin_dir) as pg:
        async with _relais_serve(pg.url, fake_slack, tmp_path / "relais-serve.log") as client:
            load, back = await _restart_under_load(pg, client, fake_slack)
            users = [click.user for click in load.clicks]
            answers = await _answers(fake_slack, users)
            health = await client.get("/healthz")
        shares = await _shares_by_member(pg.url)
    statuses = Counter(click.status for click in load.clicks)
    said = Counter(text for texts in answers.values() for text in texts)
    summary = (
        f"{len(load.clicks)} clicks in {time.monotonic() - started:.1f} s, statuses {dict(statuses)}, "
        f"answers {dict(said)}, {sum(shares.values())} share rows (server log: {tmp_path})"
    )
    print(summary)

    # The load really crossed the outage: clicks were counted before it, refused during it, counted after.
    assert said[THANKS] > 0, summary
    assert said[TRY_AGAIN] > 0, summary
    assert statuses == Counter({200: len(load.clicks)}), summary
    assert health.json() == {"status": "ok", "database": "ok"}
    for user, texts in answers.items():
        assert texts, f"{user} got no answer ({summary})"
        final = [text for text in texts if text != STILL]
        assert len(final) == 1, f"{user} was told {texts}"
        if final == [THANKS]:
            assert shares[user] == 1, f"{user} was thanked but has {shares[user]} share rows"
        else:
            assert final == [TRY_AGAIN], f"{user} was told {texts}"
            # A commit whose answer was lost with the connection may have been written all the same: the
            # member who clicks again is then told it was already counted. Never twice.
            assert shares[user] <= 1
    # Once the database was back (its pool pings connections before use), every new click counts.
    after = [click.user for click in load.clicks if click.sent > back]
    assert after, summary
    not_counted = [user for user in after if answers[user] != [THANKS]]
    assert not not_counted, f"clicks after the restart not counted: {not_counted[:5]} ({summary})"
