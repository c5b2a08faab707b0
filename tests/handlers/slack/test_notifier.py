"""The Slack notifier's answers in neutral terms: each Slack error the core must react to becomes its
neutral code (`bot.notifier`), Slack's own error kept beside it; and Slack's pace is the notifier's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.demo.fake_slack import FakeSlack
from bot.notifier import (
    CHANNEL_ARCHIVED,
    CHANNEL_GONE,
    CHANNEL_UNUSABLE,
    MALFORMED,
    NOT_A_MEMBER,
    NOT_ALLOWED,
    RATE_LIMITED,
    RECIPIENT_GONE,
    REFUSED,
    TOKEN_REVOKED,
    TOO_BIG,
    TRANSIENT,
    Delivered,
    RatePolicy,
)
from handlers.slack.notifier import CREDENTIALS_REMEDY, SlackNotifier
from tests.conftest import BOT_TOKEN

PAYLOAD = {"network": "x", "lang": "en"}


def _notifier(fake: FakeSlack) -> SlackNotifier:
    return SlackNotifier(AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url))


@pytest.mark.parametrize(
    ("destination", "error", "code", "cause"),
    [
        ("UANA", "user_not_found", RECIPIENT_GONE, None),
        ("UANA", "channel_not_found", RECIPIENT_GONE, None),  # a DM to someone who left
        ("C0NEWS", "channel_not_found", CHANNEL_UNUSABLE, CHANNEL_GONE),
        ("C0NEWS", "is_archived", CHANNEL_UNUSABLE, CHANNEL_ARCHIVED),
        ("C0NEWS", "not_in_channel", CHANNEL_UNUSABLE, NOT_A_MEMBER),
        ("C0NEWS", "restricted_action", CHANNEL_UNUSABLE, NOT_ALLOWED),
        ("C0NEWS", "msg_too_long", TOO_BIG, TOO_BIG),
        ("C0NEWS", "msg_blocks_too_long", TOO_BIG, TOO_BIG),
        ("C0NEWS", "invalid_blocks", REFUSED, MALFORMED),
        ("C0NEWS", "fatal_error", TRANSIENT, None),
    ],
)
async def test_slack_errors_become_neutral_codes_with_slacks_words_kept(
    fake_slack: FakeSlack, destination: str, error: str, code: str, cause: str | None
) -> None:
    fake_slack.add_user("UANA")
    fake_slack.add_channel("C0NEWS", "news")
    fake_slack.fail_next("chat.postMessage", status=200, error=error)
    outcome = await _notifier(fake_slack).send(
        kind="social_connected", destination=destination, payload=PAYLOAD, workspace_id=1
    )
    assert outcome == Delivered(ok=False, error=code, detail=error, cause=cause)


async def test_a_dead_token_asks_for_a_much_later_attempt(fake_slack: FakeSlack) -> None:
    fake_slack.add_user("UANA")
    fake_slack.deactivate_token()
    dead = await _notifier(fake_slack).send(
        kind="social_connected", destination="UANA", payload=PAYLOAD, workspace_id=1
    )
    assert dead == Delivered(
        ok=False, error=TOKEN_REVOKED, detail="account_inactive", retry_after=3600, remedy=CREDENTIALS_REMEDY
    )
    assert "SLACK_BOT_TOKEN" in CREDENTIALS_REMEDY  # the operator is told which setting to replace
    assert not dead.permanent


async def test_a_rate_limit_slack_keeps_up_asks_for_a_later_attempt(fake_slack: FakeSlack) -> None:
    fake_slack.add_user("UANA")
    # The client waits and tries twice more itself; Slack still says no.
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0, times=3)
    limited = await _notifier(fake_slack).send(
        kind="social_connected", destination="UANA", payload=PAYLOAD, workspace_id=1
    )
    assert (limited.ok, limited.error, limited.permanent) == (False, RATE_LIMITED, False)
    assert limited.retry_after is not None


def test_slacks_pace_is_the_notifiers_policy() -> None:
    assert SlackNotifier.rate == RatePolicy(interval=timedelta(seconds=1), burst=3)


async def test_a_message_already_posted_is_found_by_its_mark_and_no_other(fake_slack: FakeSlack) -> None:
    """What the outbox asks before sending again a message whose send was interrupted: the same message
    to the same member is found in their DM (by the mark in its metadata); another one, an edit, a DM Slack
    does not show (no im:history) or a channel (never looked in) are not (the message is then sent
    again)."""
    fake_slack.add_user("UANA")
    fake_slack.add_channel("C0NEWS", "news")
    notifier = _notifier(fake_slack)
    sent = await notifier.send(kind="social_connected", destination="UANA", payload=PAYLOAD, workspace_id=1)
    await notifier.send(kind="social_connected", destination="C0NEWS", payload=PAYLOAD, workspace_id=1)

    found = await notifier.find_delivered(
        kind="social_connected", destination="UANA", payload=PAYLOAD, workspace_id=1
    )
    other = {**PAYLOAD, "network": "linkedin"}

    assert found == Delivered(ok=True, message_id=sent.message_id, channel=sent.channel)
    assert (
        await notifier.find_delivered(
            kind="social_connected", destination="UANA", payload=other, workspace_id=1
        )
        is None
    )
    assert (
        await notifier.find_delivered(kind="post_update", destination="UANA", payload=PAYLOAD, workspace_id=1)
        is None
    )
    fake_slack.fail_next("conversations.history", status=200, error="missing_scope")  # no im:history
    assert (
        await notifier.find_delivered(
            kind="social_connected", destination="UANA", payload=PAYLOAD, workspace_id=1
        )
        is None
    )
    # A channel is not looked in (the app does not ask channels:history), though the fake would show it.
    looked = len(fake_slack.calls_to("conversations.history"))
    assert (
        await notifier.find_delivered(
            kind="social_connected", destination="C0NEWS", payload=PAYLOAD, workspace_id=1
        )
        is None
    )
    assert len(fake_slack.calls_to("conversations.history")) == looked
