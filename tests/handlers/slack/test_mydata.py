"""`/relais mydata` on Slack, end to end: signed slash commands into the running app, the file the fake
Slack received in the member's DM (through slack_sdk's files_upload_v2), its JSON against the database
and against every `relais export` (run as the operator runs it), the ephemeral summary, a failed upload
said plainly, and `GET /me/data` (signed in, not signed in, and never another member's data)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.clock import FrozenClock
from bot.demo.fake_slack import FILE_UPLOAD, FakeSlack
from bot.services import web_sessions
from bot.services.export import ExportKind, export_rows
from bot.services.suggestions import REVIEW_KIND
from models import (
    Click,
    ConversationRef,
    Delivery,
    Member,
    Network,
    OAuthAttempt,
    OutboxMessage,
    OutboxState,
    Post,
    PostState,
    SentFile,
    Share,
    ShareStatus,
    SocialAccount,
    Suggestion,
    TrackedLink,
    Workspace,
)
from tests.handlers.slack.driver import (
    TEAM,
    SettingsFactory,
    SlackDriver,
    eventually,
    relais_app,
    setup_workspace,
)
from tests.handlers.slack.test_signin import PUBLIC, Browser, Site, _settings
from tests.handlers.slack.test_tracked_links import _browser, _link_of

Sessions = async_sessionmaker[AsyncSession]

MANIFEST = Path(__file__).parents[3] / "docs" / "slack-app-manifest.json"
FILE_NAME = "relais-mydata-2026-11-25.json"  # START's UTC date
OLD_WEEK = datetime(2025, 9, 1, tzinfo=UTC)  # a Monday more than RELAIS_RETENTION_DAYS before START
BOB = "UEMP2"
# What Bob's document must never hold: his tokens, the one-time secrets of his connect link, what a
# message to him said, and another workspace's rows (a member there has his very id).
SECRETS = (
    "gAAAAA-bob-access-token",
    "gAAAAA-bob-refresh-token",
    "nonce-bob-connect-link",
    "payload-meant-for-the-platform",
    "https://other.example/secret",
    "twin-secret-addressed-to-them",
    "twin-secret-naming-them",
    "twin-secret-conversation-reference",
    "edit-of-a-reminder-in-the-dm",
)


@dataclass
class Mydata:
    slack: SlackDriver
    site: Site
    fake: FakeSlack
    sessions: Sessions
    clock: FrozenClock


@pytest.fixture
async def app(
    make_settings: SettingsFactory, engine: AsyncEngine, fake_slack: FakeSlack, clock: FrozenClock
) -> AsyncIterator[Mydata]:
    setup_workspace(fake_slack)
    # The bot has the scopes the manifest asks for, no more: files:write among them.
    fake_slack.scopes = list(json.loads(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])
    sessions = db.session_factory(engine)
    async with relais_app(_settings(make_settings, fake_slack), engine, clock, fake_slack) as driver:
        yield Mydata(
            driver, Site(Browser(driver.client), fake_slack, clock, sessions), fake_slack, sessions, clock
        )


async def _count(sessions: Sessions, model: Any) -> int:
    async with sessions() as session:
        return len((await session.scalars(select(model))).all())


async def _bob_has_a_history(app: Mydata, article: str) -> None:
    """Bob shares post 1 through his personal link, its tracked link brings clicks over two hours (and a
    robot and a repeat, which do not count; and an old week of five, folded by retention); he says Not
    for me to post 2, suggests a link, pauses his reminders; he connected LinkedIn, shared post 2 there
    through the API, started a connection, and was sent a reminder. Carla shares post 1 too, and another
    workspace has a member with Bob's very id."""
    slack, sessions = app.slack, app.sessions
    path = await _link_of(slack, sessions, article, user=BOB)
    await slack.responses((await slack.click(BOB, "open_share_x", "1:x", ephemeral=True)).url_id)
    await slack.responses((await slack.click("UEMP3", "open_share_x", "1:x", ephemeral=True)).url_id)
    assert (await slack.client.get(path, headers=_browser("203.0.113.7"))).status_code == 302
    app.clock.advance(timedelta(minutes=7, seconds=13))  # clicks are kept to the second, not the hour
    assert (await slack.client.get(path, headers=_browser("198.51.100.4"))).status_code == 302
    assert (await slack.client.get(path, headers=_browser("203.0.113.7", 1))).status_code == 302  # a repeat
    robot = {"User-Agent": "LinkedInBot/1.0", "X-Forwarded-For": "192.0.2.1"}
    assert (await slack.client.get(path, headers=robot)).status_code == 302
    app.clock.advance(timedelta(minutes=52, seconds=47))  # the next hour
    assert (await slack.client.get(path, headers=_browser("203.0.113.7", 2))).status_code == 302
    await slack.command("UADMIN", f"queue <{article}/second> <#C0NEWS|news>")

    async def two_delivered() -> bool:
        return await _count(sessions, Delivery) == 2

    await eventually(two_delivered)
    await slack.responses((await slack.click(BOB, "not_for_me", "2")).url_id)
    assert "sent" in (await slack.command(BOB, f"suggest <{article}/idea> A good read"))["text"].lower()

    async def reviews_out() -> bool:  # the admins' review messages, sent after the answer: done
        async with sessions() as session:
            states = (
                await session.scalars(select(OutboxMessage.state).where(OutboxMessage.kind == REVIEW_KIND))
            ).all()
        waiting = (OutboxState.PENDING, OutboxState.SENDING)
        return bool(states) and all(state not in waiting for state in states)

    await eventually(reviews_out)
    await slack.command(BOB, "pause 2")

    now = app.clock.now()
    async with sessions() as session:
        bob = (await session.scalars(select(Member).where(Member.external_id == BOB))).one()
        w = bob.workspace_id
        link = (await session.scalars(select(TrackedLink).where(TrackedLink.member_id == bob.id))).one()
        # Five clicks of an old week, folded into one row by the retention job (no hour, no visitor).
        session.add(Click(workspace_id=w, link_id=link.id, at=OLD_WEEK, clicks=5, counted=True))
        session.add_all(
            [
                SocialAccount(workspace_id=w, member_id=bob.id, network=Network.LINKEDIN,
                              external_person_id="li-bob", access_token_encrypted=SECRETS[0],
                              refresh_token_encrypted=SECRETS[1], scopes="w_member_social",
                              created_at=now, updated_at=now),
                Share(workspace_id=w, member_id=bob.id, post_id=2, network=Network.LINKEDIN,
                      status=ShareStatus.POSTED, caption="My own words", external_id="urn:li:share:42",
                      external_url="https://www.linkedin.com/feed/update/urn:li:share:42", attempts=1,
                      posted_at=now, created_at=now, updated_at=now),
                OAuthAttempt(workspace_id=w, member_id=bob.id, network=Network.X, nonce=SECRETS[2],
                             expires_at=now + timedelta(minutes=10), created_at=now, updated_at=now),
                OutboxMessage(workspace_id=w, kind="nudge", destination=BOB, dedupe_key="nudge:bob",
                              payload={"said": SECRETS[3]}, state=OutboxState.SENT, next_attempt_at=now,
                              sent_at=now, created_at=now, updated_at=now,
                              result={"message_id": "1.2", "channel": app.fake.dm_channel_id(BOB)}),
                # Its edit, addressed to the DM it landed in (`shared_marks`), not to his id.
                OutboxMessage(workspace_id=w, kind="nudge_update", destination=app.fake.dm_channel_id(BOB),
                              dedupe_key="nudge_update:bob", payload={"said": SECRETS[8]},
                              state=OutboxState.SENT, next_attempt_at=now, sent_at=now, created_at=now,
                              updated_at=now),
                # Not sent (yet, or ever): not among the messages Relais sent him.
                OutboxMessage(workspace_id=w, kind="nudge", destination=BOB, dedupe_key="nudge:bob:next",
                              payload={}, state=OutboxState.PENDING, next_attempt_at=now + timedelta(days=1),
                              created_at=now, updated_at=now),
                OutboxMessage(workspace_id=w, kind="nudge", destination=BOB, dedupe_key="nudge:bob:failed",
                              payload={}, state=OutboxState.FAILED, next_attempt_at=now, created_at=now,
                              updated_at=now),
                # A board naming only UEMP21, whose id begins with Bob's: it does not mention him.
                OutboxMessage(workspace_id=w, kind="leaderboard", destination="C0NEWS", dedupe_key="board3",
                              payload={"entries": [{"member": BOB + "1"}], "text": f"<@{BOB}1> leads"},
                              state=OutboxState.SENT, next_attempt_at=now, sent_at=now, created_at=now,
                              updated_at=now),
                # The channel's leaderboard names him (and Carla): it is not his message, it mentions him.
                OutboxMessage(workspace_id=w, kind="leaderboard", destination="C0NEWS", dedupe_key="board",
                              payload={"entries": [{"member": "UEMP3"}, {"member": BOB}], "x": SECRETS[3]},
                              state=OutboxState.SENT, next_attempt_at=now, sent_at=now, created_at=now,
                              updated_at=now),
                OutboxMessage(workspace_id=w, kind="leaderboard", destination="C0NEWS", dedupe_key="board2",
                              payload={"entries": [{"member": "UEMP3"}]}, state=OutboxState.SENT,
                              next_attempt_at=now, sent_at=now, created_at=now, updated_at=now),
            ]
        )  # fmt: skip
        other = Workspace(platform="slack", external_id="T0002", name="Other", created_at=now, updated_at=now)
        session.add(other)
        await session.flush()
        twin = Member(workspace_id=other.id, external_id=BOB, display_name="Bob elsewhere",
                      created_at=now, updated_at=now)  # fmt: skip
        session.add(twin)
        await session.flush()
        post = Post(workspace_id=other.id, url=SECRETS[4], state=PostState.PUBLISHED, created_at=now,
                    updated_at=now, created_by_id=twin.id)  # fmt: skip
        session.add(post)
        await session.flush()
        session.add_all(
            [
                Share(workspace_id=other.id, member_id=twin.id, post_id=post.id, network=Network.X,
                      status=ShareStatus.INTENT, intent_at=now, created_at=now, updated_at=now),
                Suggestion(workspace_id=other.id, member_id=twin.id, url=SECRETS[4], created_at=now,
                           updated_at=now),
                # What the other workspace holds under Bob's very id: none of it is his.
                OutboxMessage(workspace_id=other.id, kind="nudge", destination=BOB, dedupe_key="nudge:twin",
                              payload={"said": SECRETS[5]}, state=OutboxState.SENT, next_attempt_at=now,
                              sent_at=now, created_at=now, updated_at=now,
                              result={"message_id": "1.1", "channel": "DTWIN0001"}),
                OutboxMessage(workspace_id=other.id, kind="nudge_update", destination="DTWIN0001",
                              dedupe_key="nudge_update:twin", payload={"said": SECRETS[5]},
                              state=OutboxState.SENT, next_attempt_at=now, sent_at=now, created_at=now,
                              updated_at=now),
                OutboxMessage(workspace_id=other.id, kind="leaderboard", destination="C0TWIN",
                              dedupe_key="b:twin", payload={"entries": [{"member": BOB}], "s": SECRETS[6]},
                              state=OutboxState.SENT, next_attempt_at=now, sent_at=now, created_at=now,
                              updated_at=now),
                ConversationRef(workspace_id=other.id, key=BOB, reference={"x": SECRETS[7]}, updated_at=now),
            ]
        )  # fmt: skip
        await session.commit()


async def _exported(sessions: Sessions, kind: ExportKind) -> list[dict[str, Any]]:
    """Every row of one export, as `relais export <kind> --format json` writes them (the same service)."""
    async with sessions() as session:
        return [row async for row in export_rows(session=session, kind=kind)]


async def _mydata_file(
    app: Mydata, user: str, words: str = "mydata"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`/relais mydata` as `user`: the ephemeral answer, and the JSON of the file in their DM."""
    before = set(app.fake.files)
    reply = await app.slack.command(user, words)
    dm = app.fake.dm_channel_id(user)
    [file_id] = set(app.fake.files) - before
    stored = app.fake.files[file_id]
    assert stored["channels"] == [dm]  # shared in the DM only
    message = [m for m in app.fake.messages[dm] if m.get("files")][-1]
    assert [shared["id"] for shared in message["files"]] == [file_id]
    return reply, {"message": message, "name": stored["name"], "document": json.loads(stored["content"])}


def _facts(reply: dict[str, Any]) -> dict[str, str]:
    fields = next(block["fields"] for block in reply["blocks"] if "fields" in block)
    return dict(field["text"].replace("*", "").split("\n", 1) for field in fields)


async def test_mydata_holds_every_row_an_export_has_for_the_member(app: Mydata, article: str) -> None:
    await _bob_has_a_history(app, article)
    reply, sent = await _mydata_file(app, BOB)
    document = sent["document"]

    # What Bob reads: where the file went, and a summary of it.
    assert sent["name"] == FILE_NAME
    assert f"I sent you the whole file, `{FILE_NAME}`, in our private chat." in reply["text"]
    assert reply["response_type"] == "ephemeral"
    assert _facts(reply) == {
        "Shares": "2",
        "Clicks your links brought": "8",
        "Personal links": "1",
        "Not for me answers": "1",
        "Messages Relais sent you": "2",  # the reminder and its edit; not the pending or failed ones
        "Suggestions": "1",
        "Network connections": "1",
    }
    [button] = [e for block in reply["blocks"] if block["type"] == "actions" for e in block["elements"]]
    assert (button["action_id"], button["url"]) == ("mydata_open", f"{PUBLIC}/me/data")
    assert (
        sent["message"]["text"]
        == "Everything Relais holds about you, as you asked with `/relais mydata` (JSON)."
    )

    assert (document["format"], document["version"]) == ("relais-mydata", 1)
    assert document["workspace"] == {"platform": "slack", "id": TEAM, "name": document["workspace"]["name"]}
    profile = document["profile"]
    assert (profile["member"], profile["name"]) == (BOB, "uemp2")  # Slack's display name
    assert profile["paused_until"] is not None

    # Every row each export has of Bob is in the file, with the same values.
    # Each kind of export, and the column that names the member a row is about: a new kind fails here
    # until the document holds its rows.
    whose = {ExportKind.MEMBERS: "member", ExportKind.SHARES: "member", ExportKind.CLICKS: "member",
             ExportKind.POSTS: "created_by"}  # fmt: skip
    exports = {kind.value: await _exported(app.sessions, kind) for kind in ExportKind}
    bobs = {
        kind: [row for row in rows if row[whose[ExportKind(kind)]] == BOB and row["workspace"] == TEAM]
        for kind, rows in exports.items()
    }
    [member_row] = bobs["members"]
    assert member_row == {
        "member": profile["member"],
        "platform": document["workspace"]["platform"],
        "workspace": document["workspace"]["id"],
        "name": profile["name"],
        "locale": profile["locale"],
        "opted_out": profile["opted_out"],
        "created_at": profile["created_at"],
    }
    assert len(bobs["shares"]) == len(document["shares"]) == 2
    shares = {(share["post_id"], share["network"]): share for share in document["shares"]}
    for row in bobs["shares"]:
        mine = shares[(row["post_id"], row["network"])]
        assert {name: mine[name] for name in row if name in mine} == {
            name: value for name, value in row.items() if name in mine
        }
        assert set(row) - set(mine) == {"member", "platform", "workspace"}  # said once, in the document
    assert {share["caption"] for share in document["shares"]} == {None, "My own words"}
    # Clicks: each row of the clicks export, with the same values (its exact moment included), is one of
    # the document's rows of that link; the visitor's key is in neither.
    held = [
        {"post_id": link["post_id"], "network": link["network"], **click}
        for link in document["links"]
        for click in link["clicks"]
    ]
    assert len(held) == len(bobs["clicks"]) == 4  # three of today's visits, and an old week folded
    for row in bobs["clicks"]:
        assert set(row) - set(held[0]) == {"member", "platform", "workspace"}  # said once, in the document
    assert sorted(
        ({name: value for name, value in row.items() if name in held[0]} for row in bobs["clicks"]),
        key=json.dumps,
    ) == sorted(held, key=json.dumps)
    assert sum(row["clicks"] for row in bobs["clicks"] if row["counted"]) == 3 + 5
    assert len({row["at"] for row in held}) == 4  # each at its own moment, not rounded to the hour
    [link] = document["links"]
    assert link["url"].startswith(f"{PUBLIC}/r/")
    assert [(v["robots"], v["repeats"]) for v in link["visits_not_counted"]] == [(1, 1)]
    # Bob queued no post; Ada, who queued both, finds each of her rows of the posts export in hers.
    assert document["posts_queued"] == []
    _, ada = await _mydata_file(app, "UADMIN")
    ada_posts = [
        row for row in exports["posts"] if row["created_by"] == "UADMIN" and row["workspace"] == TEAM
    ]
    assert len(ada_posts) == 2
    queued = {post["id"]: post for post in ada["document"]["posts_queued"]}
    for row in ada_posts:
        assert {name: value for name, value in row.items() if name in queued[row["id"]]} == {
            name: queued[row["id"]][name] for name in row if name in queued[row["id"]]
        }

    # The rest of what Relais holds on Bob, and nothing that is not his.
    assert [d["post_id"] for d in document["not_for_me"]] == [2]
    [suggestion] = document["suggestions"]
    assert suggestion["url"] == f"{article}/idea"
    assert suggestion["reason"] == "A good read"
    [connection] = document["connections"]
    assert (connection["network"], connection["account"], connection["status"]) == (
        "linkedin",
        "li-bob",
        "connected",
    )
    assert [a["network"] for a in document["connection_attempts"]] == ["x"]
    # To his id or to his DM (a reminder's edit), sent or not: in the file; the summary counts the sent.
    assert [
        (m["kind"], m["state"]) for m in document["messages_received"] if m["kind"].startswith("nudge")
    ] == [
        ("nudge", "sent"),
        ("nudge_update", "sent"),
        ("nudge", "pending"),
        ("nudge", "failed"),
    ]
    assert document["chat_reference"] is None  # the other workspace's reference under his id is not his
    # Messages to others that name him: the review of his suggestion each admin got, the channel's board
    # (not the board that names only Carla).
    assert [m["kind"] for m in document["mentioned_in"]] == ["suggestion_review", "leaderboard"]
    text = json.dumps(document)
    for secret in SECRETS:
        assert secret not in text, secret
    async with app.sessions() as session:
        visitors = [v for v in await session.scalars(select(Click.visitor)) if v]
    assert visitors
    assert not any(visitor in text for visitor in visitors)
    for someone_else in ("UEMP3", "uemp3", "UADMIN", "uadmin"):
        assert someone_else not in text, someone_else
    # Naming someone else gets the caller's own file, in the caller's DM (`_mydata_file` checks where).
    _, asked_for_carla = await _mydata_file(app, BOB, "mydata <@UEMP3|uemp3>")
    assert asked_for_carla["document"]["profile"]["member"] == BOB
    assert asked_for_carla["document"]["shares"] == document["shares"]
    assert "UEMP3" not in json.dumps(asked_for_carla["document"])


async def test_mydata_is_said_in_french_and_listed_in_the_help(app: Mydata) -> None:
    reply, sent = await _mydata_file(app, "UEMP1")
    assert reply["text"].startswith("Voici un résumé de ce que Relais garde sur vous.")
    assert _facts(reply)["Partages"] == "0"
    assert sent["message"]["text"].startswith("Tout ce que Relais garde sur vous")
    assert sent["document"]["profile"]["member"] == "UEMP1"
    assert (
        "`/relais mydata` — a copy of everything Relais holds about you"
        in (await app.slack.command(BOB, "help"))["text"]
    )
    # The French names of the command (as `oubliez-moi` is forget-me's): the same file, in French.
    for alias in ("mesdonnees", "mes-données"):
        before = set(app.fake.files)
        reply = await app.slack.command("UEMP1", alias)
        assert reply["text"].startswith("Voici un résumé de ce que Relais garde sur vous."), alias
        [file_id] = set(app.fake.files) - before
        assert json.loads(app.fake.files[file_id]["content"])["profile"]["member"] == "UEMP1"


@pytest.mark.parametrize(
    "failing",
    [("files.completeUploadExternal", 200, "internal_error"), (FILE_UPLOAD, 500, None)],
    ids=["slack-refuses", "upload-url-down"],
)
async def test_a_failed_upload_is_said_plainly_with_the_download_button(
    app: Mydata, caplog: pytest.LogCaptureFixture, failing: tuple[str, int, str | None]
) -> None:
    method, status, error = failing
    app.fake.fail_next(method, status=status, error=error, retry_after=None)
    with caplog.at_level(logging.INFO):
        reply = await app.slack.command(BOB, "mydata")
    assert reply["text"].startswith("I couldn't send you the file just now.")
    [button] = [e for block in reply["blocks"] if block["type"] == "actions" for e in block["elements"]]
    assert button["url"] == f"{PUBLIC}/me/data"
    assert "Shares" in _facts(reply)
    dm = app.fake.dm_channel_id(BOB)
    assert not [m for m in app.fake.messages[dm] if m.get("files")]
    assert "sending a file to a member's DM failed" in caplog.text
    assert app.fake.bot_token not in caplog.text
    # The download button's click is acked like any link button's.
    assert (
        await app.slack.click(BOB, "mydata_open", "", url=f"{PUBLIC}/me/data", ephemeral=True)
    ).status == 200


@pytest.mark.parametrize(
    ("problem", "said"),
    [
        ("missing_scope", "files:write"),
        ("file_uploads_disabled", "disabled file uploads"),
        ("not_allowed_token_type", "not a bot token"),
    ],
)
async def test_an_upload_slack_will_never_take_is_not_answered_as_temporary(
    app: Mydata, caplog: pytest.LogCaptureFixture, problem: str, said: str
) -> None:
    """An install made before files:write was asked for lacks it until reinstalled; an admin may disable
    uploads: no retry works. The member is told to download the file, not to try again; the operator
    reads one warning naming the problem, without a traceback or a token."""
    if problem == "missing_scope":
        app.fake.scopes = [scope for scope in app.fake.scopes if scope != "files:write"]
    else:
        app.fake.fail_next("files.getUploadURLExternal", status=200, error=problem, retry_after=None)
    with caplog.at_level(logging.INFO):
        reply = await app.slack.command(BOB, "mydata")
    assert reply["text"].startswith(
        "This workspace does not let Relais send you files (an admin can change that). Download the file"
    )
    assert "again" not in reply["text"]
    [button] = [e for block in reply["blocks"] if block["type"] == "actions" for e in block["elements"]]
    assert (button["url"], button["style"]) == (f"{PUBLIC}/me/data", "primary")
    [warning] = [r for r in caplog.records if r.name == "handlers.slack.surface"]
    assert warning.levelno == logging.WARNING
    assert problem in warning.getMessage()
    assert said in warning.getMessage()
    assert warning.exc_info is None
    assert "Traceback" not in caplog.text
    assert app.fake.bot_token not in caplog.text
    assert await _count(app.sessions, SentFile) == 0
    # In French too.
    await app.slack.command(BOB, "lang fr")
    if problem != "missing_scope":
        app.fake.fail_next("files.getUploadURLExternal", status=200, error=problem, retry_after=None)
    french = await app.slack.command(BOB, "mydata")
    assert french["text"].startswith(
        "Cet espace de travail ne permet pas à Relais de vous envoyer des fichiers"
    )


async def test_me_data_downloads_the_signed_in_members_own_file_and_nobody_elses(
    app: Mydata, article: str
) -> None:
    await _bob_has_a_history(app, article)
    _, sent = await _mydata_file(app, BOB)

    anonymous = await app.site.browser.get("/me/data")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=%2Fme%2Fdata"
    assert anonymous.headers["cache-control"] == "no-store"

    landed = await app.site.sign_in(BOB, next_path="/me/data")
    assert (landed.status_code, landed.headers["location"]) == (303, "/me/data")
    # Ids changed in the URL name nobody: the file is the signed-in person's, whatever is asked.
    for url in ("/me/data", "/me/data?member=UEMP3&member_id=3&workspace=T0002", "/me/data?workspace_id=2"):
        download = await app.site.browser.get(url)
        assert download.status_code == 200, url
        assert download.headers["content-type"] == "application/json; charset=utf-8"
        assert download.headers["content-disposition"] == f'attachment; filename="{FILE_NAME}"'
        assert download.headers["cache-control"] == "no-store"
        # The same file as in Slack (the clock is frozen), and now the browser signed in as Bob too.
        downloaded = download.json()
        assert downloaded == {**sent["document"], "web_sessions": downloaded["web_sessions"]}
        assert sent["document"]["web_sessions"] == []
        assert [s["expires_at"] for s in downloaded["web_sessions"]] == ["2026-11-25T22:00:00+00:00"]
    me_page = await app.site.browser.get("/me")
    assert 'href="/me/data"' in me_page.text
    assert "Download my data" in me_page.text

    # Carla signed in gets hers; the member of another workspace with Bob's very id gets theirs.
    carla = Site(Browser(app.slack.client), app.fake, app.clock, app.sessions)
    await carla.sign_in("UEMP3", next_path="/me/data")
    hers = (await carla.browser.get("/me/data")).json()
    assert hers["profile"]["member"] == "UEMP3"
    assert [s["post_id"] for s in hers["shares"]] == [1]
    assert "My own words" not in json.dumps(hers)
    async with app.sessions() as session:
        twin = (
            await session.scalars(
                select(Member)
                .join(Workspace)
                .where(Workspace.external_id == "T0002", Member.external_id == BOB)
            )
        ).one()
        opened = await web_sessions.open_session(session, member=twin, now=app.clock.now())
        await session.commit()
    theirs = await app.slack.client.get("/me/data", headers={"Cookie": f"relais_session={opened.token}"})
    document = theirs.json()
    assert (document["workspace"]["id"], document["profile"]["name"]) == ("T0002", "Bob elsewhere")
    assert [s["url"] for s in document["shares"]] == ["https://other.example/secret"]
    assert "li-bob" not in theirs.text
    assert "My own words" not in theirs.text
