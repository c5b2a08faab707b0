"""The final fitting pass: whatever the builders make, what leaves for Slack is taken by it, cleanly."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.demo.fake_slack import FakeSlack, message_errors
from handlers.slack.blocks import clip
from handlers.slack.blocks.fit import MAX_BLOCKS_TEXT, blocks_text_length, fit_message, text_objects
from handlers.slack.client import FittingWebClient
from tests.conftest import BOT_TOKEN

# Text as builders make it: words, escaped entities, links and mentions, emoji, newlines.
_token = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12),
    st.sampled_from(["&amp;", "&lt;", "&gt;", "<https://example.com/a?b=c|a link>", "<@U123>", "<#C0NEWS>"]),
    st.sampled_from([" ", "\n", "*", "🎉"]),
)
_text = st.lists(_token, max_size=600).map("".join).filter(bool)
_long_text = st.builds(lambda part, times: part * times, _text, st.integers(1, 20))


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _button(index: int, style: str | None) -> dict[str, Any]:
    element = {"type": "button", "text": {"type": "plain_text", "text": f"Button {index}" * 10}}
    element |= {"action_id": f"action_{index}", "value": str(index)}
    return element | ({"style": style} if style else {})


_block = st.one_of(
    st.builds(lambda text: {"type": "section", "text": _mrkdwn(text)}, _long_text),
    st.builds(
        lambda texts: {"type": "context", "elements": [_mrkdwn(t) for t in texts]},
        st.lists(_long_text, min_size=1, max_size=14),
    ),
    st.builds(
        lambda styles: {"type": "actions", "elements": [_button(i, s) for i, s in enumerate(styles)]},
        st.lists(st.sampled_from([None, "primary", "danger"]), min_size=1, max_size=30),
    ),
    st.builds(lambda text: {"type": "header", "text": {"type": "plain_text", "text": text}}, _long_text),
    st.just({"type": "divider"}),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(text=_long_text, blocks=st.lists(_block, min_size=1, max_size=70))
def test_every_fitted_message_is_taken_cleanly_by_slack(text: str, blocks: list[dict[str, Any]]) -> None:
    fitted_text, fitted = fit_message(text, blocks)

    assert fitted is not None
    assert message_errors(fitted) == []
    assert blocks_text_length(fitted) <= MAX_BLOCKS_TEXT
    assert len(fitted_text) <= 4000
    if message_errors(blocks) == [] and blocks_text_length(blocks) <= MAX_BLOCKS_TEXT:
        longest = max((len(o["text"]) for o in text_objects(blocks)), default=0)
        if longest <= 3000:
            assert fitted == blocks  # what already fits is left alone


@given(text=_text, limit=st.integers(1, 400))
@example(text="00000<000<00", limit=11)  # two `<` left open: cut before the first
def test_clipping_never_cuts_inside_a_link_a_mention_or_an_entity(text: str, limit: int) -> None:
    clipped = clip(text, limit)

    assert len(clipped) <= limit
    if clipped != text:
        assert clipped.endswith("…")
        kept = clipped[:-1]
        assert text.startswith(kept.rstrip()) or text.startswith(kept)
        assert kept.count("<") == kept.count(">") or kept.rfind("<") < kept.rfind(">")
        assert not re.search(r"&[a-z]*$", kept)


async def test_the_web_client_fits_what_a_plain_client_gets_refused(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C0NEWS", "news")
    captions: list[dict[str, Any]] = [
        {"type": "context", "elements": [_mrkdwn("We <3 R&amp;D! " * 200)]},
        {"type": "actions", "elements": [_button(1, "primary"), _button(2, "primary")]},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn("Post " + "&amp; " * 700)},
        *captions * 3,
    ] * 2
    plain = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        await plain.chat_postMessage(channel="C0NEWS", text="news", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"

    fitting = FittingWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    await fitting.chat_postMessage(channel="C0NEWS", text="news", blocks=blocks)

    [message] = fake_slack.messages["C0NEWS"]
    assert message_errors(message["blocks"]) == []
    assert [b["type"] for b in message["blocks"]] == [b["type"] for b in blocks]
