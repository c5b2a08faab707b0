"""Writes racing `/relais forget-me` on Slack, end to end: the member is erased (signed confirm click) while
something of theirs is under way — an API post waiting on LinkedIn, a connection whose code is being
exchanged, a directory look-up — or waiting (an API post due again after a 503). Whatever finishes after
the erasure must not put anything of theirs back: after it, no table holds their id, name or tokens, no
message is queued for them, and the company's counts stay true."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.services import erasure, outbox
from bot.services import members as member_service
from bot.services.leaderboard import weekly_board
from bot.services.posting.poster import SHARE_RESULT_KIND
from bot.services.weekly import LEADERBOARD_KIND, board_payload
from models import Member, OutboxMessage, OutboxState, Share, ShareStatus, SocialAccount, Workspace
from models.sent_file import SentFile
from tests.erasure_scan import leftovers
from tests.handlers.slack import test_social
from tests.handlers.slack.test_social import (
    World,
    _button,
    _click_share,
    _clock_pass,
    _connect,
    _connect_link,
    _dance,
    _publish,
)

article = test_social.article
world = test_social.world

ME = "URACER"
NAME = "Léa Concurrente"


async def _until(condition: Callable[[], bool]) -> None:
    """Wait (a few seconds at most) until `condition` holds: a request reached a fake and is held there."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the request is held in another task
            await asyncio.sleep(0.01)


async def _forget_me(w: World) -> None:
    asked = await w.slack.command(ME, "forget-me")
    confirm = _button(asked, "forget_me_confirm")
    clicked = await w.slack.click(
        ME, "forget_me_confirm", confirm["value"], channel="C0GENERAL", ephemeral=True
    )
    [done] = await w.slack.responses(clicked.url_id)
    assert done["text"].startswith("Vos données sont effacées."), done["text"]


async def _erased_during(
    w: World, started: Awaitable[Any], reached: Callable[[], bool], release: Callable[[], None] = lambda: None
) -> Any:
    """Run `started` until `reached` (its request held by a fake), erase the member, then let it finish.
    `release` lifts the fake's delay for the requests that follow (the one held stays held)."""
    task = asyncio.ensure_future(started)
    await _until(reached)
    release()
    await _forget_me(w)
    return await task


async def _erased_member(w: World) -> Member:
    async with w.sessions() as session:
        return (await session.scalars(select(Member).where(Member.erased_at.is_not(None)))).one()


async def _queued_for_nobody(w: World) -> None:
    """No share result, connection notice or other message waits for the erased member."""
    erased = await _erased_member(w)
    async with w.sessions() as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
    assert [r.kind for r in rows if r.destination in (ME, erased.external_id)] == []
    assert [r.kind for r in rows if r.kind == SHARE_RESULT_KIND] == []


def _person(w: World) -> None:
    w.slack.fake.add_user(ME, real_name=NAME, display_name=NAME, locale="fr-FR", tz="Europe/Paris")


async def test_an_api_post_finishing_after_the_erasure_keeps_only_an_anonymous_count(world: World) -> None:
    w = world
    _person(w)
    message = await _publish(w, "Une grande nouvelle")
    await _connect(w, ME, "linkedin")
    w.linkedin.delay("create_post", 1.0)
    await _erased_during(
        w, _click_share(w, ME, "linkedin", message), lambda: bool(w.linkedin.calls_to("create_post"))
    )
    [urn] = w.linkedin.posts  # the network did post it
    async with w.sessions() as session:
        [share] = (await session.scalars(select(Share))).all()
    assert share.member_id is None  # it stands for nobody, not even the placeholder
    assert share.status is ShareStatus.POSTED  # it counts
    assert (share.caption, share.external_id, share.external_url, share.error) == (None, None, None, None)
    assert await leftovers(w.sessions, [ME, NAME, urn]) == []
    await _queued_for_nobody(w)


async def test_an_api_post_waiting_for_a_retry_is_cancelled_by_the_erasure(world: World) -> None:
    w = world
    _person(w)
    message = await _publish(w, "Une grande nouvelle")
    await _connect(w, ME, "linkedin")
    w.linkedin.fail_next("create_post", status=503)
    await _click_share(w, ME, "linkedin", message)
    async with w.sessions() as session:
        [share] = (await session.scalars(select(Share))).all()
        assert share.status is ShareStatus.RETRYING
    await _forget_me(w)
    w.clock.advance(timedelta(hours=1))
    await _clock_pass(w)
    assert w.linkedin.posts == {}  # nothing posted in the name of someone erased
    async with w.sessions() as session:
        [share] = (await session.scalars(select(Share))).all()
        jobs = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "social_post"))).all()
    assert share.status is ShareStatus.FAILED
    assert [job.state for job in jobs] == [OutboxState.CANCELLED]
    assert await leftovers(w.sessions, [ME, NAME]) == []
    await _queued_for_nobody(w)


async def test_a_connection_finishing_after_the_erasure_stores_no_token_and_tells_nobody(
    world: World,
) -> None:
    w = world
    _person(w)
    link = await _connect_link(w, ME, "linkedin")
    w.linkedin.delay("access_token", 1.0)
    page = await _erased_during(
        w, _dance(w, link, network="linkedin"), lambda: bool(w.linkedin.calls_to("access_token"))
    )
    assert page.status_code < 500
    granted = list(w.linkedin.tokens)
    assert granted  # the network did grant tokens
    async with w.sessions() as session:
        assert (await session.scalars(select(SocialAccount))).all() == []
    assert await leftovers(w.sessions, [ME, NAME, *granted]) == []
    await _queued_for_nobody(w)


async def test_a_directory_answer_arriving_after_the_erasure_does_not_bring_the_name_back(
    world: World,
) -> None:
    w = world
    _person(w)
    assert "Relais" in (await w.slack.command(ME, "help"))["text"]
    w.clock.advance(timedelta(minutes=30))  # their profile is stale: the next command looks them up
    before = len(w.slack.fake.calls_to("users.info"))
    w.slack.fake.delay("users.info", 1.0)
    await _erased_during(
        w,
        w.slack.command(ME, "help"),
        lambda: len(w.slack.fake.calls_to("users.info")) > before,
        lambda: w.slack.fake.delay("users.info", 0),
    )
    erased = await _erased_member(w)
    assert (erased.display_name, erased.locale, erased.timezone) == (None, None, None)
    assert await leftovers(w.sessions, [ME, NAME]) == []


async def test_an_old_confirm_button_erases_nobody_and_says_the_question_expired(world: World) -> None:
    w = world
    _person(w)
    message = await _publish(w, "Une grande nouvelle")
    old = _button(await w.slack.command(ME, "forget-me"), "forget_me_confirm")
    await _forget_me(w)
    await _click_share(w, ME, "linkedin", message)  # back: a new member
    async with w.sessions() as session:
        newcomer = (await session.scalars(select(Member).where(Member.external_id == ME))).one()

    async def click(value: str) -> str:
        clicked = await w.slack.click(ME, "forget_me_confirm", value, channel="C0GENERAL", ephemeral=True)
        return str((await w.slack.responses(clicked.url_id))[0]["text"])

    # The button of the question put to the erased row, and one put to the newcomer too long ago.
    assert (await click(old["value"])).startswith("Cette question a expiré : rien n'a été effacé.")
    late = _button(await w.slack.command(ME, "forget-me"), "forget_me_confirm")
    w.clock.advance(timedelta(minutes=16))
    assert (await click(late["value"])).startswith("Cette question a expiré")
    assert (await click("fr")).startswith("Cette question a expiré")  # a button from before this change
    async with w.sessions() as session:
        still = (await session.scalars(select(Member).where(Member.external_id == ME))).one()
        assert (still.id, still.erased_at) == (newcomer.id, None)
    fresh = _button(await w.slack.command(ME, "forget-me"), "forget_me_confirm")
    assert (await click(fresh["value"])).startswith("Vos données sont effacées.")


async def _intent(w: World, user: str, message: dict[str, Any]) -> None:
    """`user` shares on LinkedIn through their personal link (an intent: 3 points)."""
    answer = await _click_share(w, user, "linkedin", message)
    opened = await w.slack.click(user, "open_share_linkedin", _button(answer, "open_share_linkedin")["value"])
    await w.slack.responses(opened.url_id)


async def test_after_an_erasure_the_others_rank_without_the_erased_member(world: World) -> None:
    """Bob's rank (`/relais me`: a snapshot of everyone's points corrected by the members changed since)
    no longer counts the member erased, whose stamped shares stay as anonymous counts."""
    w = world
    _person(w)
    message = await _publish(w, "Une grande nouvelle")
    await _connect(w, ME, "x")
    await _click_share(w, ME, "x", message)  # 10 points
    await _intent(w, "UEMP2", message)  # 3 points
    assert "Rank: 2 of 2 participants" in (await w.slack.command("UEMP2", "me"))["text"]
    await _forget_me(w)
    w.clock.advance(timedelta(minutes=5))
    assert "Rank: 1 of 1 participants" in (await w.slack.command("UEMP2", "me"))["text"]
    # Folded into the snapshot later, the erased member still ranks nowhere.
    w.clock.advance(timedelta(days=1))
    await _intent(w, "UEMP3", message)
    assert "Rank: 1 of 2 participants" in (await w.slack.command("UEMP2", "me"))["text"]


async def test_forget_me_erases_the_person_in_every_workspace_of_their_grid_org(world: World) -> None:
    """On Enterprise Grid a user id is one person across the org's workspaces: each holds them as its own
    member, and each is erased. A workspace outside the org (another company's, the same id by chance)
    keeps its member."""
    w = world
    _person(w)
    await w.slack.command(ME, "help")
    now = w.clock.now()
    async with w.sessions() as session:
        home = (await session.scalars(select(Member).where(Member.external_id == ME))).one()
        workspace = await session.get_one(Workspace, home.workspace_id)
        workspace.enterprise_id = "E0GRID"
        for team, enterprise in (("T0SISTER", "E0GRID"), ("T0STRANGER", None)):
            other = await member_service.ensure_workspace(
                session, platform="slack", external_id=team, now=now
            )
            other.enterprise_id = enterprise
            twin = await member_service.ensure_member(session, workspace=other, external_id=ME, now=now)
            twin.display_name = NAME
        await session.commit()
    await _forget_me(w)
    async with w.sessions() as session:
        rows = (
            await session.execute(
                select(Workspace.external_id, Member.external_id, Member.display_name, Member.erased_at)
                .join(Workspace, Workspace.id == Member.workspace_id)
                .where(Workspace.external_id.in_(("T0SISTER", "T0STRANGER")))
            )
        ).all()
    found = {team: (member == ME, name, erased is not None) for team, member, name, erased in rows}
    assert found == {"T0SISTER": (False, None, True), "T0STRANGER": (True, NAME, False)}


async def test_a_board_queued_before_the_erasure_names_a_former_member(world: World) -> None:
    w = world
    _person(w)
    message = await _publish(w, "Une grande nouvelle")
    await _intent(w, ME, message)
    now = w.clock.now()
    async with w.sessions() as session:
        workspace_id = (
            await session.scalars(select(Member.workspace_id).where(Member.external_id == ME))
        ).one()
        board = await weekly_board(session, workspace_id=workspace_id, end=now + timedelta(minutes=1))
        await outbox.enqueue(
            session,
            workspace_id=workspace_id,
            kind=LEADERBOARD_KIND,
            destination="C0NEWS",
            payload=board_payload(board, week="2026-W48", lang="fr"),
            now=now + timedelta(hours=1),  # due after the erasure
            dedupe_key="leaderboard:2026-W48:C0NEWS",
        )
        await session.commit()
    await _forget_me(w)
    w.clock.advance(timedelta(hours=2))
    await _clock_pass(w)
    sent = w.slack.fake.messages["C0NEWS"][-1]
    shown = str(sent.get("text")) + str(sent.get("blocks"))
    assert "un ancien membre" in shown, shown
    assert erasure.ERASED_PREFIX not in shown
    assert NAME not in shown


# -- what lives outside Relais: files sent to their DM, tokens at the networks --------------------------


def _dm_files(w: World) -> dict[str, dict[str, Any]]:
    fake = w.slack.fake
    return {f: stored for f, stored in fake.files.items() if stored["channels"] == [fake.dm_channel_id(ME)]}


async def _sent_files(w: World) -> list[str]:
    async with w.sessions() as session:
        return list((await session.scalars(select(SentFile.file_id))).all())


async def _held_erasure(w: World, reached: Callable[[], bool], meanwhile: Awaitable[Any]) -> Any:
    """Erase the member, and while the erasure is held at the network before its transaction (`reached`),
    run `meanwhile` to its end; the erasure is still held then (else the test did not test the race)."""
    erasing = asyncio.ensure_future(_forget_me(w))
    await _until(reached)
    done = await meanwhile
    assert not erasing.done(), "the erasure was not held long enough: the race was not run"
    await erasing
    return done


async def test_a_mydata_file_uploaded_while_the_erasure_commits_is_deleted_at_slack(world: World) -> None:
    """The upload finishes after the erasure: the file's id is not kept for a person who is gone, the file
    is deleted at Slack there and then, and they are told their data is erased, not that a file came."""
    w = world
    _person(w)
    fake = w.slack.fake
    fake.delay("files.completeUploadExternal", 1.0)
    answer = await _erased_during(
        w,
        w.slack.command(ME, "mydata"),
        lambda: bool(fake.calls_to("files.completeUploadExternal")),
        lambda: fake.delay("files.completeUploadExternal", 0),
    )
    assert answer["text"].startswith("Vos données sont effacées."), answer["text"]
    [(file_id, stored)] = _dm_files(w).items()
    assert (stored["completed"], stored["deleted"], stored["content"]) == (True, True, None)
    assert [call.params["file"] for call in fake.calls_to("files.delete")] == [file_id]
    assert await _sent_files(w) == []
    assert await leftovers(w.sessions, [ME, NAME, file_id]) == []


async def test_a_mydata_file_uploaded_between_the_erasures_read_and_its_claim_is_deleted_too(
    world: World,
) -> None:
    """The erasure read what to delete at the networks (no file yet) and is held revoking their X token;
    meanwhile `/relais mydata` puts a file in their DM and keeps its id. The erasure's transaction finds
    that id and, once committed, deletes the file at Slack."""
    w = world
    _person(w)
    await _connect(w, ME, "x")
    w.x.delay("revoke", 2.0)
    sent = await _held_erasure(w, lambda: bool(w.x.calls_to("revoke")), w.slack.command(ME, "mydata"))
    assert "conversation privée" in sent["text"], sent["text"]
    [(file_id, stored)] = _dm_files(w).items()
    assert (stored["deleted"], stored["content"]) == (True, None)
    assert await _sent_files(w) == []
    assert await leftovers(w.sessions, [ME, NAME, file_id]) == []


async def test_a_connection_completing_between_the_erasures_read_and_its_claim_is_revoked(
    world: World,
) -> None:
    """The erasure read their tokens (none) and is held deleting their mydata file at Slack; meanwhile they
    finish connecting X, and the tokens are stored. The erasure's transaction deletes the account and,
    once committed, revokes those tokens at X: none stays alive there."""
    w = world
    _person(w)
    assert "conversation privée" in (await w.slack.command(ME, "mydata"))["text"]
    w.slack.fake.delay("files.delete", 2.0)
    await _held_erasure(w, lambda: bool(w.slack.fake.calls_to("files.delete")), _connect(w, ME, "x"))
    assert w.x.revoked  # the tokens granted while the erasure ran
    assert (w.x.tokens, w.x.refresh_tokens) == ({}, {})
    async with w.sessions() as session:
        assert (await session.scalars(select(SocialAccount))).all() == []
    assert await leftovers(w.sessions, [ME, NAME, *w.x.revoked]) == []


async def test_a_token_renewal_answered_after_the_erasure_is_revoked(world: World) -> None:
    """Their X token is about to expire when they click to share: Relais sends the refresh token, X renews
    the pair, and its answer is still on its way while the erasure reads, revokes and deletes the old
    pair and commits. The new pair, which nobody holds any more, is revoked at X there and then, and the
    post fails quietly, for nobody."""
    w = world
    _person(w)
    message = await _publish(w, "Une grande nouvelle")
    await _connect(w, ME, "x")
    [first_refresh] = w.x.refresh_tokens
    w.clock.advance(timedelta(hours=1, minutes=56))  # 4 minutes left: renewed before the post
    w.x.burst("token", "late", stall=2.0)
    sharing = asyncio.ensure_future(_click_share(w, ME, "x", message))
    await _until(lambda: first_refresh not in w.x.refresh_tokens)  # X renewed it; its answer is held
    await _forget_me(w)
    assert not sharing.done(), "X answered before the erasure: the race was not run"
    await sharing
    renewed = [c for c in w.x.calls_to("token") if (c.form or {}).get("grant_type") == "refresh_token"]
    assert [c.status for c in renewed] == [200]  # X did renew the pair
    assert (w.x.tokens, w.x.refresh_tokens) == ({}, {})  # and every token it granted is revoked
    assert w.x.calls_to("create_tweet") == []  # nothing posted in the name of someone erased
    async with w.sessions() as session:
        [share] = (await session.scalars(select(Share))).all()
        assert (await session.scalars(select(SocialAccount))).all() == []
    assert (share.member_id, share.status) == (None, ShareStatus.FAILED)
    assert await leftovers(w.sessions, [ME, NAME, first_refresh, *w.x.revoked]) == []
    await _queued_for_nobody(w)
