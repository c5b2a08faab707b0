"""The queue modal, Edit & share, and employees' suggestions reviewed by admins."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Post, PostState, Suggestion, SuggestionState
from tests.handlers.slack.driver import (
    START,
    SlackDriver,
    eventually,
    queue_form,
)

Sessions = async_sessionmaker[AsyncSession]


async def _posts(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Post))).scalar_one())


async def test_queue_without_arguments_opens_the_modal(slack: SlackDriver) -> None:
    await slack.command("UADMIN", "channel <#C0NEWS|news>")
    sent = await slack.send_command("UADMIN", "queue")
    assert sent.status == 200
    opened = (await slack.fake.wait_for_calls("views.open"))[0]
    view = opened.params["view"]
    assert view["callback_id"] == "queue_modal"
    blocks = {block["block_id"]: block for block in view["blocks"]}
    assert {
        "url",
        "caption_1",
        "caption_2",
        "caption_3",
        "networks",
        "channels",
        "publish_at",
        "expires_on",
    } <= set(blocks)
    assert blocks["channels"]["element"]["initial_conversations"] == ["C0NEWS"]
    networks = blocks["networks"]["element"]
    options = [(option["value"], option["text"]["text"]) for option in networks["options"]]
    assert options == [("linkedin", "LinkedIn"), ("x", "X")]
    assert networks["initial_options"] == networks["options"]  # every network ticked
    assert slack.fake.responses_to(sent.url_id) == []  # the modal is the answer


async def test_a_valid_modal_queues_and_publishes(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    response = await slack.submit(
        "UADMIN", "queue_modal", queue_form(f"{article}/m", "First words", "Other words")
    )
    assert response.status_code == 200
    assert response.text == ""
    await slack.fake.wait_for_calls("chat.postMessage", count=2)
    confirmations = [c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == "UADMIN"]
    assert (
        confirmations[0].params["text"]
        == "Post #1 is being published in <#C0NEWS>. I'll tell you if a channel refuses it."
    )
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
        assert post.captions == ["First words", "Other words"]
        assert post.state is PostState.PUBLISHED


async def test_the_modal_of_an_unreadable_page_is_answered_like_the_command(
    slack: SlackDriver, sessions: Sessions
) -> None:
    """One "queued" reply for the form and the command: the admin hears the page could not be read."""
    response = await slack.submit("UADMIN", "queue_modal", queue_form("https://unreachable.invalid/news"))
    assert (response.status_code, response.text) == (200, "")

    async def told() -> bool:
        return await _has_dm(slack, "UADMIN")

    await eventually(told)
    [confirmation] = [c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == "UADMIN"]
    assert confirmation.params["text"] == (
        "Post #1 is being published in <#C0NEWS>. I'll tell you if a channel refuses it.\n"
        "(I couldn't read the page's title and image; the link alone will be shown.)"
    )
    assert await _posts(sessions) == 1


async def test_scheduled_with_expiry_from_the_modal(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    later = int((START + timedelta(days=1)).timestamp())
    response = await slack.submit(
        "UADMIN", "queue_modal", queue_form(f"{article}/m", publish_at=later, expires_on="2026-12-31")
    )
    assert response.status_code == 200

    async def queued() -> bool:
        return await _posts(sessions) == 1

    await eventually(queued)
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
        assert post.state is PostState.SCHEDULED
        assert post.expires_at is not None
        assert post.expires_at.isoformat() == "2026-12-31T23:00:00+00:00"  # end of the day in Paris


@pytest.mark.parametrize(
    ("form", "block", "message"),
    [
        (queue_form("https://example.com/a", "x" * 257), "caption_1", "at most 256 characters"),
        (
            queue_form("https://example.com/a", "y" * 3001, networks=("linkedin",)),
            "caption_1",
            "at most 3000",
        ),
        (queue_form("https://example.com/a", networks=()), "networks", "at least one network"),
        (queue_form("https://example.com/a", channels=()), "channels", "Where should this go?"),
        (queue_form("mailto:boss@example.com"), "url", "doesn't look like a link"),
        (
            queue_form("https://example.com/a", publish_at=int((START - timedelta(hours=2)).timestamp())),
            "publish_at",
            "past",
        ),
        (
            queue_form("https://example.com/a", expires_on="2026-11-01"),
            "expires_on",
            "expiry date must come after",
        ),
    ],
)
async def test_modal_errors_are_shown_under_the_field_and_nothing_is_created(
    slack: SlackDriver, sessions: Sessions, form: dict[str, dict[str, Any]], block: str, message: str
) -> None:
    response = await slack.submit("UADMIN", "queue_modal", form)
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert message in answer["errors"][block]
    await slack.settle(0.1)
    assert await _posts(sessions) == 0


async def test_a_non_admin_cannot_submit_the_queue_modal(slack: SlackDriver, sessions: Sessions) -> None:
    response = await slack.submit("UEMP2", "queue_modal", queue_form("https://example.com/a"))
    assert "Only Relais admins" in response.json()["errors"]["url"]
    assert await _posts(sessions) == 0


async def _publish(slack: SlackDriver, article: str, sessions: Sessions) -> dict[str, Any]:
    await slack.command("UADMIN", f"queue {article}/launch Our launch <#C0NEWS|news>")

    async def pushed() -> bool:
        return bool(slack.fake.messages["C0NEWS"])

    await eventually(pushed)
    return slack.fake.messages["C0NEWS"][-1]


async def test_edit_and_share_opens_my_caption_and_gives_my_link_with_my_words(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    message = await _publish(slack, article, sessions)
    await slack.click("UEMP3", "edit_share", "1", message_ts=message["ts"])
    view = (await slack.fake.wait_for_calls("views.open"))[0].params["view"]
    assert view["callback_id"] == "edit_share_modal"
    caption_block = next(b for b in view["blocks"] if b.get("block_id") == "caption")
    assert caption_block["element"]["initial_value"] == "Our launch"

    too_long: dict[str, dict[str, Any]] = {
        "caption": {"type": "plain_text_input", "value": "z" * 300},
        "network": {"type": "radio_buttons", "selected_option": {"value": "x"}},
    }
    refused = await slack.submit(
        "UEMP3", "edit_share_modal", too_long, private_metadata=view["private_metadata"]
    )
    assert "at most 256" in refused.json()["errors"]["caption"]

    mine: dict[str, dict[str, Any]] = {
        "caption": {"type": "plain_text_input", "value": "My team built this, proud!"},
        "network": {"type": "radio_buttons", "selected_option": {"value": "x"}},
    }
    accepted = await slack.submit(
        "UEMP3", "edit_share_modal", mine, private_metadata=view["private_metadata"]
    )
    assert accepted.text == ""
    dm = (await slack.fake.wait_for_calls("chat.postMessage", count=2))[-1]
    assert dm.params["channel"] == "UEMP3"
    intent = dm.params["blocks"][1]["elements"][0]["url"]
    query = parse_qs(urlsplit(intent).query)
    assert query["text"] == ["My team built this, proud!"]
    assert query["url"][0].startswith("https://relais.example.test/r/")


async def test_suggestion_rejected_then_another_approved_through_the_modal(
    slack: SlackDriver, article: str, sessions: Sessions
) -> None:
    nobody = await slack.command("UEMP2", f"suggest {article}/idea")
    assert nobody["text"].startswith("I don't know any Relais admin")

    await slack.command("UADMIN", "help")  # Ada is now known as a workspace admin
    sent = await slack.command("UEMP2", f"suggest <{article}/idea> Customers love it")
    assert sent["text"].startswith("Thanks! Your suggestion was sent to the admins")
    review = (await slack.fake.wait_for_calls("chat.postMessage"))[0]
    assert review.params["channel"] == "UADMIN"
    assert "<@UEMP2> suggests sharing" in review.params["text"]
    buttons = [e["action_id"] for e in review.params["blocks"][1]["elements"]]
    assert buttons == ["suggestion_approve", "suggestion_reject"]

    refused = await slack.click("UEMP3", "suggestion_reject", "1")
    assert refused.status == 200
    await slack.fake.wait_for_calls("chat.postMessage", count=2)
    assert "Only Relais admins" in slack.fake.calls_to("chat.postMessage")[-1].params["text"]

    await slack.click("UADMIN", "suggestion_reject", "1")
    update = (await slack.fake.wait_for_calls("chat.update"))[0]
    assert "Rejected by <@UADMIN>" in json.dumps(update.params["blocks"])
    told = (await slack.fake.wait_for_calls("chat.postMessage", count=3))[-1]
    assert (told.params["channel"], "not selected" in told.params["text"]) == ("UEMP2", True)

    await slack.command("UEMP1", f"suggest {article}/second")
    await slack.click("UADMIN", "suggestion_approve", "2")
    modal = (await slack.fake.wait_for_calls("views.open"))[0].params["view"]
    url_block = next(b for b in modal["blocks"] if b["block_id"] == "url")
    assert url_block["element"]["initial_value"] == f"{article}/second"
    response = await slack.submit(
        "UADMIN", "queue_modal", queue_form(f"{article}/second"), private_metadata=modal["private_metadata"]
    )
    assert response.status_code == 200

    async def approved() -> bool:
        async with sessions() as session:
            suggestion = await session.get(Suggestion, 2)
            return suggestion is not None and suggestion.state is SuggestionState.APPROVED

    await eventually(approved)
    await eventually(lambda: _has_dm(slack, "UEMP1"))
    french = [c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == "UEMP1"]
    assert "Bonne nouvelle" in french[-1].params["text"]
    async with sessions() as session:
        first = await session.get_one(Suggestion, 1)
        second = await session.get_one(Suggestion, 2)
        assert (first.state, second.state, second.post_id) == (
            SuggestionState.REJECTED,
            SuggestionState.APPROVED,
            1,
        )


async def _has_dm(slack: SlackDriver, user: str) -> bool:
    return any(c.params["channel"] == user for c in slack.fake.calls_to("chat.postMessage"))
