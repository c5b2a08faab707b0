"""`/relais forget-me` on Slack, end to end: signed slash commands and button clicks into the running app
(connections made through the real OAuth routes against the fake X, shares through the real buttons,
clicks through `/r/<code>`). After the confirm, no table holds the member's id, name or tokens, the
company's totals are what they were, a colleague's data is untouched, the member's tracked link still
opens the article and counts nothing, and the person coming back is a new member."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from bot.services import analytics, erasure, outbox, scores
from bot.services.export import ERASED_MEMBER, ExportKind, export_rows
from bot.services.leaderboard import weekly_board
from bot.services.posting import Poster
from bot.services.posting.poster import SHARE_RESULT_KIND
from bot.services.weekly import LEADERBOARD_KIND, board_payload
from handlers.social import build_social_clients, new_http_client
from models import (
    Click,
    Dismissal,
    Member,
    OutboxMessage,
    OutboxState,
    SentFile,
    Share,
    ShareStatus,
    SocialAccount,
    Suggestion,
    TrackedLink,
    WebSession,
)
from tests.erasure_scan import leftovers, rows_in_every_table
from tests.handlers.slack import test_social
from tests.handlers.slack.test_social import World, _button, _buttons, _click_share, _connect, _publish
from tests.handlers.slack.test_tracked_links import _browser

# The fixtures of the social tests: the app with both networks against their fakes, and the article.
article = test_social.article
world = test_social.world

ME = "UFORGET"
NAME = "Zoé Effacée-Quintal"


async def _member(w: World, external_id: str) -> Member | None:
    async with w.sessions() as session:
        return await session.scalar(select(Member).where(Member.external_id == external_id))


async def _tracked_path(answer: dict[str, Any]) -> str:
    """The `/r/<code>` path of the personal link a share answer offers."""
    url = unquote(str(_button(answer, "open_share_linkedin")["url"]))
    found = re.search(r"https://relais\.example\.test(/r/[\w-]+)", url)
    assert found, url
    return found.group(1)


async def _totals(w: World) -> dict[str, Any]:
    """The company's figures as admins see them: `/relais stats`'s, the week's leaderboard totals, the
    dashboard's (its weekly aggregates rebuilt from the rows at this look: `analytics.refresh`), and the
    shares and clicks exports."""
    async with w.sessions() as session:
        workspace_id = (await session.scalars(select(Member.workspace_id).limit(1))).one()
        stats = await scores.stats(session, workspace_id=workspace_id)
        board = await weekly_board(
            session, workspace_id=workspace_id, end=w.clock.now() + timedelta(minutes=1)
        )
        exported = [row async for row in export_rows(session=session, kind=ExportKind.SHARES)]
        clicks = [row async for row in export_rows(session=session, kind=ExportKind.CLICKS)]
        figures = await analytics.dashboard(session, analytics.Scope(workspace_id, 4, w.clock.now()))
    return {
        "by_network": stats.by_network,
        "board_shares": board.shares,
        "exported": sorted(
            (row["post_id"], row["network"], row["status"], row["counted"]) for row in exported
        ),
        "members_in_export": sorted(str(row["member"]) for row in exported),
        "dashboard_shares": [(week.start, week.shares) for week in figures.weeks],
        # (A post with only a "Not for me": the erased member's answer is deleted, not a share.)
        "dashboard_posts": [
            (row.post_id, row.share_clicks, row.shares) for row in figures.posts if row.share_clicks
        ],
        # Clicks: the erased member's are deleted (what their links brought), everyone else's stay.
        "clicks": {
            "stats": stats.clicks,
            "board": board.clicks,
            "dashboard": sum(sum(week.clicks.values()) for week in figures.weeks),
            "export": sum(row["clicks"] for row in clicks),
        },
        "clicks_in_export": sorted(str(row["member"]) for row in clicks),
    }


async def _history(w: World) -> tuple[str, list[str]]:
    """The member to erase connects X (signed in to Relais with Slack), shares post 1 on X through the API
    and on LinkedIn through their personal link, whose tracked link brings a click; says Not for me to
    post 2; suggests a link; appears on a leaderboard message. Bob shares post 1 too. Returns the tracked
    link's path and every token string the member's connection made (plain and encrypted)."""
    w.slack.fake.add_user(ME, real_name=NAME, display_name=NAME, locale="fr-FR", tz="Europe/Paris")
    message = await _publish(w, "Une grande nouvelle")
    await _connect(w, ME, "x")
    posted = await _click_share(w, ME, "x", message)
    assert posted["text"] == "Publié sur X. Merci !"
    personal = await _click_share(w, ME, "linkedin", message)
    opened = _button(personal, "open_share_linkedin")
    await w.slack.responses((await w.slack.click(ME, "open_share_linkedin", opened["value"])).url_id)
    path = await _tracked_path(personal)
    assert (await w.slack.client.get(path, headers=_browser("203.0.113.7"))).status_code == 302
    bob = await _click_share(w, "UEMP2", "linkedin", message)
    await w.slack.responses(
        (
            await w.slack.click("UEMP2", "open_share_linkedin", _button(bob, "open_share_linkedin")["value"])
        ).url_id
    )
    bob_path = await _tracked_path(bob)
    assert (await w.slack.client.get(bob_path, headers=_browser("203.0.113.8"))).status_code == 302
    second = await _publish(w, "Autre chose")
    await w.slack.responses((await w.slack.click(ME, "not_for_me", "2", message_ts=second["ts"])).url_id)
    assert "envoyée" in (await w.slack.command(ME, f"suggest <{w.article}/idea> Une bonne lecture"))["text"]
    now = w.clock.now()
    async with w.sessions() as session:
        workspace_id = (
            await session.scalars(select(Member.workspace_id).where(Member.external_id == ME))
        ).one()
        board = await weekly_board(session, workspace_id=workspace_id, end=now + timedelta(minutes=1))
        assert NAME in [entry.name for entry in board.entries]
        await outbox.enqueue(
            session,
            workspace_id=workspace_id,
            kind=LEADERBOARD_KIND,
            destination="C0NEWS",
            payload=board_payload(board, week="2026-W48", lang="fr"),
            now=now,
            dedupe_key="leaderboard:2026-W48:C0NEWS",
        )
        account = (await session.scalars(select(SocialAccount))).one()
        encrypted = [account.access_token_encrypted, account.refresh_token_encrypted or ""]
        assert (await session.scalar(select(func.count()).select_from(WebSession))) == 1
        assert (await session.scalar(select(func.count()).select_from(Suggestion))) == 1
        await session.commit()
    tokens = [*w.x.tokens, *w.x.refresh_tokens, *encrypted]
    return path, tokens


async def test_forget_me_erases_every_trace_and_keeps_the_counts(world: World) -> None:
    w = world
    path, tokens = await _history(w)
    # Hours later: the dashboard's aggregates hold every row (the member's on their own member rows).
    w.clock.advance(analytics.FRESH + timedelta(minutes=1))
    before = await _totals(w)
    assert before["by_network"] == {"x": 1, "linkedin": 2}
    assert ME in before["members_in_export"]
    assert sum(sum(shares.values()) for _, shares in before["dashboard_shares"]) == 3
    assert before["clicks"] == {"stats": 2, "board": 2, "dashboard": 2, "export": 2}
    erased_row = await _member(w, ME)
    assert erased_row is not None
    assert erased_row.display_name == NAME
    bob_before = await _member(w, "UEMP2")

    asked = await w.slack.command(ME, "forget-me")
    assert "Effacer vos données de Relais" in asked["text"]
    assert "Gardés, sans votre nom" in str(asked["blocks"])
    confirm = _button(asked, "forget_me_confirm")
    assert confirm["style"] == "danger"
    assert _button(asked, "forget_me_cancel")
    assert [b["action_id"] for b in _buttons(asked)] == ["forget_me_confirm", "forget_me_cancel"]

    clicked = await w.slack.click(
        ME, "forget_me_confirm", confirm["value"], channel="C0GENERAL", ephemeral=True
    )
    assert clicked.status == 200
    [done] = await w.slack.responses(clicked.url_id)
    assert done["text"].startswith("Vos données sont effacées.")
    assert done["replace_original"] in (True, "true")

    # Nowhere: not the Slack id, not the name, not a token, plain or encrypted.
    assert await leftovers(w.sessions, [ME, NAME, *tokens]) == []
    # The tokens were revoked at X (which allows it) before they were deleted.
    assert set(w.x.revoked) & set(tokens)
    # The company's share totals are what they were, everywhere admins look (the dashboard rebuilt from
    # the rows at this look, and again hours later); the member's shares count, standing for nobody. Their
    # clicks are gone, and only theirs.
    for later in (timedelta(0), analytics.FRESH + timedelta(minutes=1)):
        w.clock.advance(later)
        after = await _totals(w)
        for figure in ("by_network", "board_shares", "exported", "dashboard_shares", "dashboard_posts"):
            assert after[figure] == before[figure], figure
        assert after["members_in_export"] == sorted(
            ERASED_MEMBER if member == ME else member for member in before["members_in_export"]
        )
        assert after["clicks"] == {"stats": 1, "board": 1, "dashboard": 1, "export": 1}
        assert after["clicks_in_export"] == ["UEMP2"]
    async with w.sessions() as session:
        placeholder = (await session.scalars(select(Member).where(Member.erased_at.is_not(None)))).one()
        assert placeholder.id == erased_row.id
        assert erasure.is_erased_id(placeholder.external_id)
        assert (placeholder.display_name, placeholder.locale, placeholder.language) == (None, None, None)
        assert (placeholder.opted_out, placeholder.active, placeholder.is_admin) == (True, False, False)
        # Nothing points at the placeholder: it holds no history of the person (`leftovers` checks every
        # table); their shares and link stand for nobody.
        assert (await session.scalars(select(Share).where(Share.member_id == placeholder.id))).all() == []
        kept = (await session.scalars(select(Share).where(Share.member_id.is_(None)))).all()
        assert sorted(s.status for s in kept) == [ShareStatus.INTENT, ShareStatus.POSTED]
        assert all((s.caption, s.external_id, s.external_url) == (None, None, None) for s in kept)
        [their_link] = (await session.scalars(select(TrackedLink).where(TrackedLink.code == path[3:]))).all()
        assert their_link.member_id is None
        # A colleague's data is untouched.
        bob = (await session.scalars(select(Member).where(Member.external_id == "UEMP2"))).one()
        assert bob_before is not None
        assert (bob.id, bob.display_name) == (
            bob_before.id,
            bob_before.display_name,
        )
        [bob_share] = (await session.scalars(select(Share).where(Share.member_id == bob.id))).all()
        assert bob_share.caption == "Une grande nouvelle"
        assert await session.scalar(select(func.count()).select_from(Click)) == 1  # Bob's
    # Admins hear the count, never the name.
    stats = await w.slack.command("UADMIN", "stats")
    assert "1 member(s) erased their data" in stats["text"]
    assert NAME not in str(stats)
    assert ME not in str(stats)

    # The member's tracked link still opens the article, and counts nothing (not even a tally).
    tables = await rows_in_every_table(w.sessions)
    visit = await w.slack.client.get(path, headers=_browser("198.51.100.4"))
    assert visit.status_code == 302
    assert visit.headers["Location"].startswith(w.article)
    assert await leftovers(w.sessions, [ME, NAME]) == []
    assert await rows_in_every_table(w.sessions) == tables
    assert (await _totals(w))["clicks"] == {"stats": 1, "board": 1, "dashboard": 1, "export": 1}

    # A second click changes nothing and says so.
    tables = await rows_in_every_table(w.sessions)
    again = await w.slack.click(
        ME, "forget_me_confirm", confirm["value"], channel="C0GENERAL", ephemeral=True
    )
    assert (await w.slack.responses(again.url_id))[0]["text"].startswith("Rien à effacer")
    assert await rows_in_every_table(w.sessions) == tables
    assert await leftovers(w.sessions, [ME, NAME]) == []

    # The person coming back is a new member, with nothing of the erased one.
    message = w.slack.fake.messages["C0NEWS"][0]
    back = await _click_share(w, ME, "linkedin", message)
    assert _button(back, "open_share_linkedin")
    newcomer = await _member(w, ME)
    assert newcomer is not None
    assert newcomer.id != erased_row.id
    assert newcomer.erased_at is None
    async with w.sessions() as session:
        assert (
            await session.scalars(select(Member).where(Member.erased_at.is_not(None)))
        ).one().id == erased_row.id


async def test_the_confirm_erases_only_whoever_clicks_and_cancel_erases_nothing(world: World) -> None:
    w = world
    message = await _publish(w, "Une grande nouvelle")
    for user in ("UEMP2", "UEMP3"):
        answer = await _click_share(w, user, "linkedin", message)
        await w.slack.responses(
            (
                await w.slack.click(
                    user, "open_share_linkedin", _button(answer, "open_share_linkedin")["value"]
                )
            ).url_id
        )
    asked = await w.slack.command("UEMP2", "forget-me")
    assert "Erase your data from Relais?" in asked["text"]

    # Cancel: nothing changes.
    tables = await rows_in_every_table(w.sessions)
    cancelled = await w.slack.click("UEMP2", "forget_me_cancel", "en", channel="C0GENERAL", ephemeral=True)
    assert (await w.slack.responses(cancelled.url_id))[0]["text"] == "Nothing was erased."
    assert await rows_in_every_table(w.sessions) == tables
    assert await _member(w, "UEMP2") is not None

    # A value naming someone else (Bob's question's, or his id) erases nobody: the question was not
    # Carla's. Her own question's button erases Carla, never Bob.
    bob_before, carla = await _member(w, "UEMP2"), await _member(w, "UEMP3")
    assert bob_before is not None
    assert carla is not None
    assert carla.display_name
    for value in (_button(asked, "forget_me_confirm")["value"], "UEMP2"):
        forged = await w.slack.click("UEMP3", "forget_me_confirm", value, channel="C0GENERAL", ephemeral=True)
        assert (await w.slack.responses(forged.url_id))[0]["text"].startswith("This question has expired")
    assert await rows_in_every_table(w.sessions) == tables
    hers = _button(await w.slack.command("UEMP3", "forget-me"), "forget_me_confirm")["value"]
    confirmed = await w.slack.click("UEMP3", "forget_me_confirm", hers, channel="C0GENERAL", ephemeral=True)
    assert (await w.slack.responses(confirmed.url_id))[0]["text"].startswith("Your data is erased.")
    assert await _member(w, "UEMP3") is None
    bob = await _member(w, "UEMP2")
    assert bob is not None
    assert (bob.id, bob.erased_at, bob.display_name) == (bob_before.id, None, bob_before.display_name)
    assert await leftovers(w.sessions, ["UEMP3", carla.display_name]) == []


async def test_a_process_that_remembers_an_erased_member_records_their_next_click_as_a_new_member(
    world: World,
) -> None:
    """The web process met the member (its hot cache maps their Slack id to their row); another process
    (`relais erase-member`, another web process) erases them. Their next click must not attach anything
    to the erased row: the share writer finds it erased and records a new member."""
    w = world
    message = await _publish(w, "Une grande nouvelle")
    first = await _click_share(w, "UEMP2", "linkedin", message)  # remembered by this process
    async with w.sessions() as session:
        target = await erasure.find_target(session, platform="slack", workspace=w.slack.team, member="UEMP2")
    assert target is not None
    assert (
        await erasure.erase_member(w.sessions, target, cipher=None, clients={}, now=w.clock.now()) is not None
    )

    # The personal link's button of before the erasure: this process still maps Bob to the erased row.
    opened = await w.slack.click(
        "UEMP2", "open_share_linkedin", _button(first, "open_share_linkedin")["value"]
    )
    assert (await w.slack.responses(opened.url_id))[0]["text"] == "Thanks! Your share on LinkedIn is counted."
    newcomer = await _member(w, "UEMP2")
    assert newcomer is not None
    assert newcomer.id != target.member_id
    await w.slack.responses((await w.slack.click("UEMP2", "not_for_me", "1")).url_id)
    again = await _click_share(w, "UEMP2", "linkedin", message)
    assert _button(again, "open_share_linkedin")
    async with w.sessions() as session:
        erased = await session.get_one(Member, target.member_id)
        assert erased.erased_at is not None
        assert erased.display_name is None
        assert (await session.scalars(select(Share.member_id))).all() == [newcomer.id]
        assert (await session.scalars(select(Dismissal.member_id))).all() == [newcomer.id]
        links = (await session.scalars(select(TrackedLink.member_id))).all()
        assert newcomer.id in links  # the erased row's link stays, pointing to nobody


async def test_forget_me_deletes_the_files_mydata_sent_even_when_slack_fails_one(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The copy of their data `/relais mydata` put in their DM is the bot's file: the member cannot delete
    it, so the erasure does (`files.delete`), before its transaction. A file Slack fails to delete is
    logged, without the token, and the erasure goes on; its id alone is kept, for the clock to try again
    (`test_erasure_grid`), the other's goes. Bob's file stays."""
    w = world
    fake = w.slack.fake
    fake.add_user(ME, real_name=NAME, display_name=NAME)
    for user in (ME, ME, "UEMP2"):
        assert "private chat" in (await w.slack.command(user, "mydata"))["text"]
    mine = [f for f, stored in fake.files.items() if stored["channels"] == [fake.dm_channel_id(ME)]]
    [bobs] = [f for f, stored in fake.files.items() if stored["channels"] == [fake.dm_channel_id("UEMP2")]]
    assert len(mine) == 2
    async with w.sessions() as session:
        kept = (await session.execute(select(SentFile.file_id, Member.external_id).join(Member))).all()
    assert sorted(kept) == sorted([(mine[0], ME), (mine[1], ME), (bobs, "UEMP2")])

    fake.fail_next("files.delete", status=200, error="internal_error")  # the first one fails
    confirm = _button(await w.slack.command(ME, "forget-me"), "forget_me_confirm")
    with caplog.at_level(logging.WARNING):
        clicked = await w.slack.click(ME, "forget_me_confirm", confirm["value"], ephemeral=True)
        [done] = await w.slack.responses(clicked.url_id)
    assert done["text"].startswith("Your data is erased.")
    assert [call.params["file"] for call in fake.calls_to("files.delete")] == mine
    assert fake.files[mine[0]]["content"] is not None  # Slack failed that one: logged, tried again later
    assert (fake.files[mine[1]]["deleted"], fake.files[mine[1]]["content"]) == (True, None)
    shown = [f for m in fake.messages[fake.dm_channel_id(ME)] for f in m.get("files", ())]
    assert {"id": mine[1], "mode": "tombstone"} in shown
    assert "deleting a file Relais sent failed (internal_error)" in caplog.text
    assert fake.bot_token not in caplog.text
    assert fake.files[bobs]["deleted"] is False
    async with w.sessions() as session:
        assert sorted((await session.scalars(select(SentFile.file_id))).all()) == sorted([mine[0], bobs])
    assert await leftovers(w.sessions, [ME, NAME, mine[1]]) == []


async def test_forget_me_erases_what_went_to_their_dm_and_leaves_a_longer_id_alone(world: World) -> None:
    """A reminder's edit is addressed to the DM the reminder landed in (`shared_marks`), not to the
    member's id: it is theirs, and goes. A board naming a colleague whose id begins with theirs
    (`UFORGET` and `UFORGET2`) names someone else: it keeps that id whole."""
    w = world
    fake = w.slack.fake
    fake.add_user(ME, real_name=NAME, display_name=NAME)
    fake.add_user(ME + "2", real_name="Zoé Bis", display_name="Zoé Bis")
    await w.slack.command(ME, "me")
    await w.slack.command(ME + "2", "me")
    dm, now = fake.dm_channel_id(ME), w.clock.now()
    async with w.sessions() as session:
        workspace_id = (
            await session.scalars(select(Member.workspace_id).where(Member.external_id == ME))
        ).one()
        session.add_all(
            [
                OutboxMessage(workspace_id=workspace_id, kind="nudge", destination=ME, dedupe_key="nudge:me",
                              payload={}, state=OutboxState.SENT, next_attempt_at=now, sent_at=now,
                              created_at=now, updated_at=now, result={"message_id": "1.2", "channel": dm}),
                OutboxMessage(workspace_id=workspace_id, kind="nudge_update", destination=dm,
                              dedupe_key="nudge_update:1:1:x", payload={"said": "edit-in-their-dm"},
                              state=OutboxState.PENDING, next_attempt_at=now + timedelta(days=1),
                              created_at=now, updated_at=now),
                OutboxMessage(workspace_id=workspace_id, kind=LEADERBOARD_KIND, destination="C0NEWS",
                              dedupe_key="board:bis", payload={"text": f"<@{ME}2> leads", "member": f"{ME}2"},
                              state=OutboxState.SENT, next_attempt_at=now, sent_at=now, created_at=now,
                              updated_at=now),
            ]
        )  # fmt: skip
        await session.commit()

    confirm = _button(await w.slack.command(ME, "forget-me"), "forget_me_confirm")
    clicked = await w.slack.click(ME, "forget_me_confirm", confirm["value"], ephemeral=True)
    assert (await w.slack.responses(clicked.url_id))[0]["text"].startswith("Your data is erased.")
    assert await leftovers(w.sessions, [NAME, dm, "edit-in-their-dm"]) == []
    async with w.sessions() as session:
        board = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == "board:bis"))
        ).one()
        assert board.payload == {"text": f"<@{ME}2> leads", "member": f"{ME}2"}
        assert await _member(w, ME + "2") is not None


async def test_a_post_taken_before_the_erasure_and_begun_after_it_posts_nothing_for_nobody(
    world: World,
) -> None:
    """The clock took the member's API post (due again after a 503) just before the erasure, which then
    cancels only the posts still waiting: when the post begins, its member is gone. Nothing is posted, the
    share is settled as the erasure settles the waiting ones, standing for nobody, and nobody is told."""
    w = world
    w.slack.fake.add_user(ME, real_name=NAME, display_name=NAME, locale="fr-FR", tz="Europe/Paris")
    message = await _publish(w, "Une grande nouvelle")
    await _connect(w, ME, "linkedin")
    w.linkedin.fail_next("create_post", status=503)
    await _click_share(w, ME, "linkedin", message)
    w.clock.advance(timedelta(hours=1))
    [job] = await _taken(w)  # as a clock pass takes it, before running it
    await _forget(w)
    http = new_http_client()
    try:
        poster = Poster(
            w.sessions,
            clients=build_social_clients(w.settings, http),
            cipher=w.settings.fernet,
            base_url=w.settings.base_url,
            now=w.clock.now,
        )
        # The pass's second step, after the erasure.
        view = await poster._run(job, notify=True)
    finally:
        await http.aclose()
    assert view.status is ShareStatus.FAILED
    assert len(w.linkedin.calls_to("create_post")) == 1  # the first attempt's 503 only
    assert w.linkedin.posts == {}
    async with w.sessions() as session:
        [share] = (await session.scalars(select(Share))).all()
        jobs_left = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "social_post"))
        ).all()
        links_made = (await session.scalars(select(TrackedLink))).all()
    assert (share.member_id, share.status, share.caption, share.error) == (
        None,
        ShareStatus.FAILED,
        None,
        None,
    )
    assert [j.state for j in jobs_left] == [OutboxState.CANCELLED]
    assert all(link.member_id is None for link in links_made)
    assert await leftovers(w.sessions, [ME, NAME]) == []
    async with w.sessions() as session:
        kinds = (await session.scalars(select(OutboxMessage.kind))).all()
    assert SHARE_RESULT_KIND not in kinds


async def _taken(w: World) -> list[OutboxMessage]:
    job = await outbox.claim_next(w.sessions, w.clock.now(), kinds=(outbox.SOCIAL_POST_KIND,))
    return [job] if job is not None else []


async def _forget(w: World) -> None:
    asked = await w.slack.command(ME, "forget-me")
    confirm = _button(asked, "forget_me_confirm")
    clicked = await w.slack.click(
        ME, "forget_me_confirm", confirm["value"], channel="C0GENERAL", ephemeral=True
    )
    [done] = await w.slack.responses(clicked.url_id)
    assert done["text"].startswith("Vos données sont effacées."), done["text"]
