"""Suggestion reviews go through the outbox like every other message: each admin's review message, where
it landed (remembered on the suggestion), the edits that close them once someone decides, and what the
employee is told; a review not sent yet when someone decides is never sent."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.demo.fake_slack import FakeSlack
from models import OutboxMessage, OutboxState, Suggestion, SuggestionState
from tests.handlers.slack.driver import SettingsFactory, SlackDriver, eventually, relais_app, setup_workspace

Sessions = async_sessionmaker[AsyncSession]


async def _rows(sessions: Sessions, kind: str) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        return list((await session.scalars(query)).all())


async def _suggestion(sessions: Sessions) -> Suggestion:
    async with sessions() as session:
        return (await session.scalars(select(Suggestion))).one()


async def test_reviews_are_sent_remembered_and_closed_through_the_outbox(
    slack: SlackDriver, article: str, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UADM2", real_name="Zoé", is_admin=True, locale="fr-FR")
    for admin in ("UADMIN", "UADM2"):
        await slack.command(admin, "help")  # both known as workspace admins
    reply = await slack.command("UEMP2", f"suggest <{article}/idea> Customers love it")
    assert reply["text"].startswith("Thanks! Your suggestion was sent to the admins")

    async def both_sent() -> bool:
        rows = await _rows(sessions, "suggestion_review")
        return len(rows) == 2 and all(row.state is OutboxState.SENT for row in rows)

    await eventually(both_sent)
    reviews = {str(c.params["channel"]): c for c in fake_slack.calls_to("chat.postMessage")}
    assert "<@UEMP2> suggests sharing" in str(reviews["UADMIN"].params["text"])
    assert "<@UEMP2> suggère de partager" in str(reviews["UADM2"].params["text"])  # Zoé reads French
    sent = {row.destination: row.result for row in await _rows(sessions, "suggestion_review")}
    shown = sorted(
        (m["admin"], m["channel"], m["message_id"], m["lang"])
        for m in (await _suggestion(sessions)).review_messages
    )
    assert shown == sorted(
        (admin, str(result["channel"]), str(result["message_id"]), lang)
        for admin, result, lang in (("UADMIN", sent["UADMIN"], "en"), ("UADM2", sent["UADM2"], "fr"))
        if result is not None
    )
    for admin, channel, ts, _ in shown:
        assert fake_slack.find_message(channel, ts) is not None, admin  # where Slack put each review

    await slack.click("UADMIN", "suggestion_reject", "1")

    async def closed() -> bool:
        rows = await _rows(sessions, "suggestion_review_update") + await _rows(sessions, "suggestion_outcome")
        return len(rows) == 3 and all(row.state is OutboxState.SENT for row in rows)

    await eventually(closed)
    edits = {(str(c.params["channel"]), str(c.params["ts"])): c for c in fake_slack.calls_to("chat.update")}
    assert sorted(edits) == sorted((channel, ts) for _, channel, ts, _ in shown)
    for edit in edits.values():
        assert "suggestion_reject" not in json.dumps(edit.params["blocks"])  # the buttons are gone
    by_admin = {admin: edits[(channel, ts)] for admin, channel, ts, _ in shown}
    assert "Rejected by <@UADMIN>" in json.dumps(by_admin["UADMIN"].params["blocks"], ensure_ascii=False)
    assert "Refusée par <@UADMIN>" in json.dumps(by_admin["UADM2"].params["blocks"], ensure_ascii=False)
    [told] = await _rows(sessions, "suggestion_outcome")
    assert told.destination == "UEMP2"
    bob = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "UEMP2"]
    assert "not selected" in str(bob[-1].params["text"])
    assert (await _suggestion(sessions)).state is SuggestionState.REJECTED


async def test_a_review_still_waiting_when_someone_decides_is_never_sent(
    slack: SlackDriver, article: str, sessions: Sessions, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UADM2", real_name="Zoé", is_admin=True)
    for admin in ("UADMIN", "UADM2"):
        await slack.command(admin, "help")
    # Zoé's review is sent first (admins in id order) and fails on an outage: it waits to be tried again.
    fake_slack.fail_next("chat.postMessage", status=503)
    await slack.command("UEMP2", f"suggest {article}/idea")

    async def ada_has_hers() -> bool:
        rows = {row.destination: row.state for row in await _rows(sessions, "suggestion_review")}
        return rows == {"UADM2": OutboxState.PENDING, "UADMIN": OutboxState.SENT}

    await eventually(ada_has_hers)
    await slack.click("UADMIN", "suggestion_reject", "1")

    async def told() -> bool:
        return [row.state for row in await _rows(sessions, "suggestion_outcome")] == [OutboxState.SENT]

    await eventually(told)
    rows = {row.destination: row.state for row in await _rows(sessions, "suggestion_review")}
    assert rows == {"UADM2": OutboxState.CANCELLED, "UADMIN": OutboxState.SENT}
    assert [row.destination for row in await _rows(sessions, "suggestion_review_update")] != []
    to_zoe = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "UADM2"]
    assert len(to_zoe) == 1  # the one that failed, never tried again


async def test_when_no_admin_can_be_reached_the_employee_is_told(
    make_settings: SettingsFactory,
    engine: AsyncEngine,
    fake_slack: FakeSlack,
    article: str,
    clock: FrozenClock,
) -> None:
    """RELAIS_ADMINS names someone who has since left (Relais met them in this workspace; an id it never
    met here is no admin of this workspace): the review fails for good, and the employee hears that the
    suggestion is saved but reached nobody (instead of waiting for an answer that never comes)."""
    setup_workspace(fake_slack)
    fake_slack.add_user("UGONE")
    settings = make_settings(relais_admins="UGONE")
    async with relais_app(settings, engine, clock, fake_slack) as slack:
        await slack.command("UGONE", "help")  # a member of this workspace
        fake_slack.add_user("UGONE", deleted=True)  # who then leaves it
        reply = await slack.command("UEMP2", f"suggest {article}/idea")
        assert reply["text"].startswith("Thanks! Your suggestion was sent to the admins")
        sessions = async_sessionmaker(engine, expire_on_commit=False)

        async def unreached() -> bool:
            rows = await _rows(sessions, "suggestion_unreached")
            return [(row.destination, row.state) for row in rows] == [("UEMP2", OutboxState.SENT)]

        await eventually(unreached)
    [review] = await _rows(sessions, "suggestion_review")
    assert (review.destination, review.state) == ("UGONE", OutboxState.FAILED)
    bob = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "UEMP2"]
    assert str(bob[-1].params["text"]).startswith(
        "Your suggestion is saved, but I could not reach the admins"
    )
    assert (await _suggestion(sessions)).state is SuggestionState.PENDING
