"""Hostile input through signed Slack requests: numbers a database cannot hold, digits from other scripts,
dates off the calendar, links that would break Slack's markup, control characters, forged form values.
Each gets HTTP 200 and a clear refusal in the member's language, and the database does not change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Base, Post, PostState, Suggestion
from tests.handlers.slack.driver import START, SlackDriver, eventually, queue_form

Sessions = async_sessionmaker[AsyncSession]
Snapshot = dict[str, list[tuple[Any, ...]]]


async def snapshot(sessions: Sessions) -> Snapshot:
    """Every row of every table, in a stable order: equal snapshots mean nothing changed."""
    found: Snapshot = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = await session.execute(text(f'SELECT * FROM "{table.name}"'))  # noqa: S608  # our names
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


async def _queue(slack: SlackDriver, sessions: Sessions, article: str) -> None:
    await slack.command("UADMIN", f"queue {article}/launch Our launch <#C0NEWS|news>")

    async def delivered() -> bool:
        return bool(slack.fake.messages["C0NEWS"])

    await eventually(delivered)


@pytest.mark.parametrize(
    ("user", "command", "answer"),
    [
        ("UADMIN", "cancel 999999999999999999999", "“999999999999999999999” is not a post number"),
        ("UADMIN", "stats 99999999999999999999999999", "is not a post number"),
        ("UADMIN", "cancel 9223372036854775808", "is not a post number"),  # one past the largest BIGINT
        ("UADMIN", "cancel １", "“１” is not a post number"),  # fullwidth: int() reads it as post #1
        ("UADMIN", "stats ١", "is not a post number"),  # Arabic-Indic one
        ("UADMIN", "cancel -1", "is not a post number"),
        ("UADMIN", "cancel 1e3", "is not a post number"),
        ("UEMP1", "pause ٢", "pause de 1 à 52 semaines"),  # French member, Arabic-Indic two
        ("UEMP1", "pause 99999999999999999999999", "pause de 1 à 52 semaines"),
        ("UEMP2", "pause 0", "Pause for 1 to 52 weeks"),
    ],
)
async def test_numbers_no_database_holds_or_no_one_means_are_refused(
    slack: SlackDriver, sessions: Sessions, article: str, user: str, command: str, answer: str
) -> None:
    await _queue(slack, sessions, article)  # post #1 exists: a misread "1" would cancel it
    await slack.command(user, "help")  # the member is known before the snapshot
    before = await snapshot(sessions)
    reply = await slack.command(user, command)
    assert answer in reply["text"]
    await slack.settle(0.1)
    assert await snapshot(sessions) == before


async def test_typed_text_is_echoed_as_text_never_as_a_mention(slack: SlackDriver) -> None:
    unknown = await slack.command("UADMIN", "<!channel> now")
    assert "I don't know `&lt;!channel&gt;`" in unknown["text"]
    channel = await slack.command("UADMIN", "channel <!here>")
    assert channel["text"].startswith("I can't find the channel &lt;!here&gt;.")
    when = await slack.command("UADMIN", "queue https://example.com/a words at <@U999|boss> 25:00")
    assert "<@U999" not in when["text"]
    await slack.command("UADMIN", "lang fr")
    french = await slack.command("UADMIN", "cancel <@UADMIN>")
    assert "« &lt;@UADMIN&gt; » n'est pas un numéro de publication" in french["text"]


async def test_control_characters_are_refused_before_anything_is_stored(
    slack: SlackDriver, sessions: Sessions, article: str
) -> None:
    for user in ("UEMP1", "UEMP2"):
        await slack.command(user, "help")
    before = await snapshot(sessions)
    reply = await slack.command("UEMP2", f"suggest {article}/idea worth\x00sharing")
    assert "invisible control characters" in reply["text"]
    french = await slack.command("UEMP1", "pause 2\x1b[31m")
    assert "caractères de contrôle invisibles" in french["text"]
    await slack.settle(0.1)
    assert await snapshot(sessions) == before


async def test_a_long_suggestion_reason_is_refused(
    slack: SlackDriver, sessions: Sessions, article: str
) -> None:
    await slack.command("UADMIN", "help")  # an admin is known: suggestions have a reviewer
    reply = await slack.command("UEMP2", f"suggest {article}/idea " + "why " * 300)
    assert "at most 1000 characters" in reply["text"]
    async with sessions() as session:
        assert (await session.scalars(select(Suggestion))).all() == []


async def test_a_pipe_in_a_link_keeps_the_channel_message_link_whole(
    slack: SlackDriver, sessions: Sessions, article: str
) -> None:
    await slack.command("UADMIN", f"queue {article}/a|b?x=1&y=<2> Read this <#C0NEWS|news>")

    async def delivered() -> bool:
        return bool(slack.fake.messages["C0NEWS"])

    await eventually(delivered)
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
    assert post.url == f"{article}/a%7Cb?x=1&y=%3C2%3E"
    preview = slack.fake.messages["C0NEWS"][-1]["blocks"][0]["text"]["text"]
    assert preview.startswith(f"*<{article}/a%7Cb?x=1&amp;y=%3C2%3E|")


async def test_a_link_with_a_broken_host_is_refused(slack: SlackDriver, sessions: Sessions) -> None:
    for link in ("https://xn--e-.example/", "https://exa|mple.com/", "https://example.com:99999/"):
        reply = await slack.command("UADMIN", f"queue {link} <#C0NEWS|news>")
        assert "doesn't look like a link I can share" in reply["text"]
    async with sessions() as session:
        assert (await session.scalars(select(Post))).all() == []


def _hours(hours: float) -> int:
    return int((START + timedelta(hours=hours)).timestamp())


@pytest.mark.parametrize(
    ("form", "block", "message"),
    [
        ({"expires_on": "9999-12-31"}, "expires_on", "within a year of the publication"),
        ({"expires_on": "2028-01-01"}, "expires_on", "within a year of the publication"),
        ({"expires_on": "0001-01-01"}, "expires_on", "must come after the publication"),
        ({"expires_on": "31/12/2026"}, "expires_on", "not a date I can read"),
        ({"expires_on": "２０２６-１２-３１"}, "expires_on", "not a date I can read"),
        ({"publish_at": "abc"}, "publish_at", "not a date I can read"),
        ({"publish_at": 10**30}, "publish_at", "not a date I can read"),
        ({"publish_at": -1}, "publish_at", "not a date I can read"),
        ({"publish_at": 253402300000}, "publish_at", "not a date I can read"),  # year 9999
        ({"publish_at": _hours(24 * 400)}, "publish_at", "more than a year away"),
        ({"publish_at": _hours(-24 * 4000)}, "publish_at", "in the past"),
        ({"networks": ("facebook",)}, "networks", "at least one network"),
        ({"networks": ("linkedin", "'; DROP TABLE post; --")}, "networks", "at least one network"),
        ({"channels": ("<!channel>",)}, "channels", "can't find the channel <!channel>"),
        ({"channels": ("C0NEWS", "x" * 5000)}, "channels", "can't find the channel"),
        ({"captions": ("nul\x00byte",)}, "caption_1", "invisible control characters"),
    ],
)
async def test_forged_or_far_queue_form_values_are_refused_under_their_field(
    slack: SlackDriver, sessions: Sessions, form: dict[str, Any], block: str, message: str
) -> None:
    await slack.command("UADMIN", "help")
    before = await snapshot(sessions)
    captions = form.pop("captions", ())
    response = await slack.submit(
        "UADMIN", "queue_modal", queue_form("https://example.com/a", *captions, **form)
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert message in answer["errors"][block]
    await slack.settle(0.1)
    assert await snapshot(sessions) == before


async def test_the_queue_form_in_french_and_a_year_ahead_is_accepted(
    slack: SlackDriver, sessions: Sessions, article: str
) -> None:
    await slack.command("UADMIN", "lang fr")
    far = await slack.submit(
        "UADMIN", "queue_modal", queue_form(f"{article}/m", expires_on="9999-12-31", publish_at="x")
    )
    assert far.json()["errors"] == {
        "expires_on": "La date d'expiration doit tomber dans l'année qui suit la publication.",
        "publish_at": "Je ne sais pas lire cette date ; choisissez-la dans le calendrier.",
    }
    inside = await slack.submit(
        "UADMIN",
        "queue_modal",
        queue_form(f"{article}/m", publish_at=_hours(24 * 300), expires_on="2027-12-01"),
    )
    assert inside.text == ""

    async def queued() -> bool:
        async with sessions() as session:
            return (await session.scalars(select(Post))).first() is not None

    await eventually(queued)
    async with sessions() as session:
        post = (await session.scalars(select(Post))).one()
    assert post.state is PostState.SCHEDULED


@pytest.mark.parametrize("metadata", ["not json", "[]", '{"suggestion_id": 99999999999999999999999}',
                                      '{"suggestion_id": "1"}', '{"suggestion_id": true}'])  # fmt: skip
async def test_a_queue_form_with_forged_metadata_is_refused(
    slack: SlackDriver, sessions: Sessions, article: str, metadata: str
) -> None:
    await slack.command("UADMIN", "help")
    before = await snapshot(sessions)
    response = await slack.submit(
        "UADMIN", "queue_modal", queue_form(f"{article}/m"), private_metadata=metadata
    )
    assert response.status_code == 200
    assert response.json()["errors"] == {"url": "This form is out of date: close it and start again."}
    await slack.settle(0.1)
    assert await snapshot(sessions) == before


@pytest.mark.parametrize(
    ("values", "metadata", "block", "message"),
    [
        ({"network": {"selected_option": {"value": "myspace"}}}, '{"post_id": 1}', "network", "network"),
        ({"network": {"selected_option": "x"}}, '{"post_id": 1}', "network", "network"),
        ({}, "", "caption", "out of date"),
        ({}, '{"post_id": 99999999999999999999999}', "caption", "out of date"),
        ({}, '{"post_id": "1; DROP TABLE share"}', "caption", "out of date"),
        ({"caption": {"value": "a\x00b"}}, '{"post_id": 1}', "caption", "control characters"),
    ],
)
async def test_forged_edit_and_share_submissions_are_refused(
    slack: SlackDriver,
    sessions: Sessions,
    article: str,
    values: dict[str, dict[str, Any]],
    metadata: str,
    block: str,
    message: str,
) -> None:
    await _queue(slack, sessions, article)
    await slack.command("UEMP2", "help")
    before = await snapshot(sessions)
    state: dict[str, dict[str, Any]] = {
        "caption": {"type": "plain_text_input", "value": "mine"},
        "network": {"type": "radio_buttons", "selected_option": {"value": "x"}},
    }
    for key, value in values.items():
        state[key] = {**state[key], **value}
    response = await slack.submit("UEMP2", "edit_share_modal", state, private_metadata=metadata)
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert message in errors[block]
    await slack.settle(0.1)
    assert await snapshot(sessions) == before
