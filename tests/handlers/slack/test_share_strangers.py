"""The post buttons clicked by someone Slack's directory does not have as an active member of the workspace
(a deactivated account here; a member id of another workspace in test_cross_workspace.py): the click is
acked and recorded as fast as any (the directory is never asked before the ack), then users.info is asked
and they are refused, what the click recorded withdrawn. A directory that cannot answer keeps the clicks."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.slack.blocks.modals import EDIT_CALLBACK
from models import Delivery, Dismissal, Member, Share, TrackedLink
from tests.handlers.slack.driver import SlackDriver, eventually

Sessions = async_sessionmaker[AsyncSession]
BUTTONS = (("share_linkedin", "1"), ("open_share_linkedin", "1:linkedin"), ("not_for_me", "1"))


async def _count(sessions: Sessions, model: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _queued(slack: SlackDriver, sessions: Sessions, article: str) -> None:
    """Post #1, pushed into #news by the admin."""
    await slack.command("UADMIN", f"queue <{article}/launch> Our launch <#C0NEWS|news>")

    async def delivered() -> bool:
        return await _count(sessions, Delivery) == 1

    await eventually(delivered)


async def _answers(slack: SlackDriver, user: str) -> list[str]:
    """What `user` is told after clicking Share, opening their link and Not for me on post #1."""
    told = []
    for action, value in BUTTONS:
        sent = await slack.click(user, action, value)
        assert sent.status == 200
        told.append(json.dumps(await slack.responses(sent.url_id)))
    return told


async def test_a_deactivated_account_gets_no_link_and_its_clicks_are_withdrawn(
    slack: SlackDriver, sessions: Sessions, article: str
) -> None:
    slack.fake.add_user("UGONE", real_name="Gone", locale="fr-FR", deleted=True)
    await _queued(slack, sessions, article)
    told = await _answers(slack, "UGONE")
    assert all("n'est plus disponible" in text for text in told), told  # in their Slack's language
    assert not any("Our launch" in text or "/r/" in text for text in told), told
    # Edit & share: no form, and a submission naming the post (forged) is refused by direct message.
    posted = len(slack.fake.calls_to("chat.postMessage"))
    assert (await slack.click("UGONE", "edit_share", "1")).status == 200
    form: dict[str, dict[str, Any]] = {
        "caption": {"type": "plain_text_input", "value": "My own words"},
        "network": {"type": "radio_buttons", "selected_option": {"value": "linkedin"}},
    }
    submitted = await slack.submit("UGONE", EDIT_CALLBACK, form, private_metadata=json.dumps({"post_id": 1}))
    assert submitted.status_code == 200

    def refusals() -> list[str]:  # Slack refuses a DM to a deactivated account; what was sent is what counts
        return [
            str(call.params.get("text"))
            for call in slack.fake.calls_to("chat.postMessage")[posted:]
            if call.params["channel"] == "UGONE"
        ]

    async def both_refused() -> bool:
        return refusals().count("Cette publication n'est plus disponible.") == 2

    await eventually(both_refused)
    assert not any("Our launch" in text or "/r/" in text for text in refusals()), refusals()
    assert not slack.fake.calls_to("views.open")
    await slack.settle()
    assert [await _count(sessions, model) for model in (TrackedLink, Share, Dismissal)] == [0, 0, 0]
    async with sessions() as session:
        gone = (await session.scalars(select(Member).where(Member.external_id == "UGONE"))).one()
    assert not gone.active


async def test_a_directory_that_fails_locks_nobody_out(
    slack: SlackDriver, sessions: Sessions, article: str
) -> None:
    """users.info answering 500 for a first contact: the link is given, the share counted, the Not for me
    noted, as before the directory was asked about clicks."""
    await _queued(slack, sessions, article)
    slack.fake.fail_next("users.info", status=500, times=20)
    share, opened, dismissed = await _answers(slack, "UEMP2")
    assert "/r/" in share, share
    assert "Thanks!" in opened, opened
    assert "Noted" in dismissed, dismissed
    assert [await _count(sessions, model) for model in (TrackedLink, Share, Dismissal)] == [1, 1, 1]
