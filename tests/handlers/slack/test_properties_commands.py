"""Properties of every command grammar and of the queue and Edit & share forms, under generated input:
huge numbers, digits of other scripts, unicode, right-to-left and control characters, Slack markup
(`<!channel>`, `<@U…|x>`, `|`) and injection strings, sent as signed Slack requests to the running app.

Whatever is typed: HTTP 200, the answer is a message (never a traceback, never "something went
wrong", which is what an unexpected exception becomes), and a refusal changes nothing in the database.

The examples run inside one test with one app: hypothesis drives them from a worker thread while the
app serves on the test's event loop; every example starts from whatever the previous ones left, which
is how a workspace lives anyway. Derandomized, so a run is the same on every machine.
"""

from __future__ import annotations

import asyncio
import json
import re
import string
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.flows.commands import SUBCOMMANDS
from bot.i18n import CATALOGUES
from models import Post
from tests.handlers.slack.driver import START, SlackDriver, eventually, queue_form
from tests.handlers.slack.test_hostile_input import Snapshot, snapshot

Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")

# Written by the outbox as it drains, on its own time: compared by row count only.
DRAINED = frozenset({"outbox", "outbox_pacing", "delivery"})

# The answers that refuse: none of them may come with a change in the database.
REFUSALS = frozenset(
    {
        "not_admin",
        "unknown_command",
        "missing_url",
        "invalid_url",
        "unknown_channel",
        "no_channel",
        "missing_post_id",
        "unknown_post",
        "not_a_post_id",
        "already_cancelled",
        "no_network",
        "too_many_captions",
        "caption_too_long_x",
        "caption_too_long_linkedin",
        "private_url",
        "bad_weeks",
        "lang_unknown",
        "suggest_no_admins",
        "unknown_network",
        "network_not_available",
        "text_too_long",
        "text_control_characters",
        "schedule_usage",
        "schedule_weekend",
        "schedule_outside_hours",
        "schedule_bad_day",
        "schedule_bad_time",
        "schedule_bad_timezone",
    }
    | {key for key in CATALOGUES["en"] if key.startswith("when_")}
)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("(?s:.*?)".join(re.escape(part) for part in parts))


REFUSAL_PATTERNS = [_pattern(CATALOGUES[lang][key]) for lang in CATALOGUES for key in sorted(REFUSALS)]
BROKEN = {CATALOGUES[lang]["something_went_wrong"] for lang in CATALOGUES}


def _is_refusal(text: str) -> bool:
    return any(pattern.search(text) for pattern in REFUSAL_PATTERNS)


# -- generated input ---------------------------------------------------------------------------------

HOSTILE = [
    "999999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "-1",
    "0",
    "#1",
    "1",
    "2",
    "１",
    "١٢",
    "1e3",
    "0x10",
    "1_000",
    "'; DROP TABLE post; --",
    '" OR 1=1 --',
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@UADMIN|boss>",
    "<@U999>",
    "<#C0NEWS|news>",
    "<#C0GENERAL>",
    "<#C0NOPE|gone>",
    "#news",
    "#nope",
    "|",
    "<",
    ">",
    "&amp;",
    "&lt;script&gt;",
    "\u202eevil",
    "\u200f",
    "مرحبا",
    "שלום",
    "👩‍💻",
    "\x00",
    "\x1b[31m",
    "\u2028",
    "at",
    "à",
    "le",
    "tomorrow 9:00",
    "demain 9h",
    "9999-12-31",
    "0001-01-01 00:00",
    "31/02",
    "in 999999 weeks",
    "25:00",
    "linkedin",
    "x",
    "fr",
    "en",
    "nudges",
    "leaderboard",
    "mon",
    "sat",
    "10:00",
    "23:59",
    "points",
    "https://xn--e-.com/",
    "https://exa|mple.com/",
    "https://user:pw@example.com/",
    "javascript:alert(1)",
    "http://127.0.0.1:9/",
    "<https://example.com/x|y>",
    "x" * 3000,
    "9" * 5000,
]


NUMBERS = st.one_of(
    st.sampled_from(HOSTILE[:13]),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.integers(min_value=2**31, max_value=10**30).map(str),  # past INTEGER, BIGINT and SQLite's range
    st.integers(min_value=0, max_value=10**25).map(lambda n: f"#{n}"),
    st.from_regex(r"[0-9\u0660-\u0669\uff10-\uff19]{1,4}", fullmatch=True),  # ASCII, Arabic-Indic, fullwidth
)
CHANNELS = st.sampled_from([word for word in HOSTILE if word.startswith(("<", "#"))])
WHEN = st.sampled_from(
    ["at", "à", "le", "tomorrow 9:00", "demain 9h", "9999-12-31", "0001-01-01 00:00", "31/02",
     "in 999999 weeks", "25:00", "at 9999-12-31 23:59", "le 31/12/9999"]
)  # fmt: skip


def _urls(article: str) -> st.SearchStrategy[str]:
    on_article = [f"{article}/ok", f"{article}/a|b", f"<{article}/p?x=1&amp;y=2|label>", f"{article}/<b>&c"]
    return st.sampled_from([*HOSTILE[-10:-2], *on_article])


def _words(article: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE),
        NUMBERS,
        CHANNELS,
        WHEN,
        _urls(article),
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12),
    )


def command_texts(article: str) -> st.SearchStrategy[str]:
    """`<command> <first argument of its grammar> <words…>` for every command (and some that are not),
    or anything at all."""
    first = {
        "cancel": NUMBERS, "stats": NUMBERS, "pause": NUMBERS,
        "queue": _urls(article), "suggest": _urls(article),
        "channel": CHANNELS,
        "schedule": st.sampled_from(["nudges", "leaderboard", "NUDGES", "x"]),
        "lang": st.sampled_from(["fr", "en", "FR", "klingon", "ｆｒ"]),
        "connect": st.sampled_from(["linkedin", "x", "twitter", "myspace"]),
        "disconnect": st.sampled_from(["linkedin", "x", "twitter", "myspace"]),
    }  # fmt: skip
    names = [*sorted(SUBCOMMANDS), "QUEUE", "Cancel", "frobnicate", "<!channel>", "１"]

    def grammar(name: str) -> st.SearchStrategy[str]:
        head = first.get(name.lower(), _words(article))
        return st.builds(
            lambda a, rest: " ".join([name, a, *rest]), head, st.lists(_words(article), max_size=4)
        )

    structured = st.sampled_from(names).flatmap(grammar)
    anything = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
    return st.one_of(structured, structured, structured, anything)


_JSON = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=False), st.text(max_size=10)
)
_ANY_TEXT = st.text(max_size=40)  # surrogates and control characters included: JSON carries them


def _mostly(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field that is usually what Slack would send, so that whole forms are often valid (and the
    accepting path runs too), and otherwise anything."""
    return st.integers(min_value=0, max_value=7).flatmap(lambda n: hostile if n in (0, 3) else valid)


# Text a person may type: any script, right-to-left, emoji with joiners; no control characters.
_TYPED = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=60)


def queue_forms(article: str) -> st.SearchStrategy[tuple[dict[str, dict[str, Any]], str]]:
    hours = st.integers(min_value=-(10**3), max_value=24 * 500)
    stamps = _mostly(
        st.one_of(st.none(), st.integers(min_value=1, max_value=24 * 300).map(_stamp)),
        st.one_of(hours.map(_stamp), _JSON, st.integers(min_value=0, max_value=10**12).map(str)),
    )
    days = _mostly(
        st.one_of(
            st.none(), st.dates(START.date() + timedelta(days=320), START.date() + timedelta(days=360))
        ),
        st.one_of(st.dates(), _JSON),
    ).map(lambda day: day.isoformat() if hasattr(day, "isoformat") else day)
    urls = _mostly(
        st.sampled_from([f"{article}/ok", f"{article}/a|b?c=<d>&e", f"{article}/é?q=مرحبا"]),
        st.one_of(st.sampled_from(HOSTILE[-10:]), _ANY_TEXT),
    )
    captions = st.lists(
        _mostly(
            st.one_of(st.none(), _TYPED, st.sampled_from(HOSTILE[13:40])),
            st.one_of(_ANY_TEXT, _JSON, st.text(string.ascii_letters, min_size=250, max_size=3100)),
        ),
        max_size=3,
    )
    networks = _mostly(
        st.sampled_from([["linkedin"], ["x"], ["linkedin", "x"], ["x", "linkedin"]]),
        st.lists(st.one_of(st.sampled_from(["linkedin", "x", "facebook", "", "'; --"]), _JSON), max_size=3),
    )
    channels = _mostly(
        st.sampled_from([["C0NEWS"], ["C0GENERAL"], ["C0NEWS", "C0GENERAL"], ["C0NEWS", "C0NEWS"]]),
        st.lists(
            st.one_of(st.sampled_from(["C0NEWS", "<!channel>", "G0PRIVATE", "D0DM", "c0news", ""]), _JSON),
            max_size=3,
        ),
    )
    metadata = _mostly(
        st.sampled_from(["", "{}", '{"suggestion_id": null}']),
        st.one_of(_JSON.map(lambda value: json.dumps({"suggestion_id": value})), _ANY_TEXT),
    )

    def build(
        url: str, caps: list[Any], nets: list[Any], chans: list[Any], stamp: Any, day: Any
    ) -> dict[str, Any]:
        form = queue_form(url, networks=(), channels=(), publish_at=stamp, expires_on=day)
        for index, caption in enumerate(caps, start=1):
            form[f"caption_{index}"]["value"] = caption
        form["networks"]["selected_options"] = [{"value": value} for value in nets]
        form["channels"]["selected_conversations"] = chans
        return form

    return st.tuples(st.builds(build, urls, captions, networks, channels, stamps, days), metadata)


def _stamp(hours: int) -> int:
    return int((START + timedelta(hours=hours)).timestamp())


# -- the properties ----------------------------------------------------------------------------------


def _on(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on the app's event loop from hypothesis's worker thread."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)


def _comparable(found: Snapshot) -> dict[str, Any]:
    return {name: len(rows) if name in DRAINED else rows for name, rows in found.items()}


async def _settled(sessions: Sessions) -> dict[str, Any]:
    """The database once what earlier examples set going (an outbox drain after the answer) is done: the
    state a refusal must leave as it found it."""
    found = _comparable(await snapshot(sessions))
    for _ in range(100):
        await asyncio.sleep(0.03)
        again = _comparable(await snapshot(sessions))
        if again == found:
            return found
        found = again
    raise AssertionError("the database never settled")


async def _warm_up(slack: SlackDriver, users: list[str]) -> None:
    for user in users:  # known members: identifying a first-timer is not what is under test
        await slack.command(user, "help")


async def _check_command(slack: SlackDriver, sessions: Sessions, user: str, text: str) -> None:
    before = await _settled(sessions)
    sent = await slack.send_command(user, text)
    assert sent.status == 200, text
    reply = (await slack.responses(sent.url_id))[0]
    answer = str(reply.get("text") or "")
    assert answer, text
    assert "Traceback" not in answer
    assert answer not in BROKEN, text
    await slack.settle(0.02)
    if _is_refusal(answer):
        assert _comparable(await snapshot(sessions)) == before, (text, answer)


async def test_every_command_answers_and_refusals_change_nothing(
    slack: SlackDriver, sessions: Sessions, article: str
) -> None:
    users = ["UADMIN", "UEMP1", "UEMP2"]
    await _warm_up(slack, users)
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(user=st.sampled_from(["UADMIN", "UADMIN", "UADMIN", *users]), text=command_texts(article))
    @example(user="UADMIN", text="cancel 999999999999999999999")  # the case: OverflowError
    @example(user="UADMIN", text="stats 9223372036854775808")
    @example(user="UEMP1", text="pause ٢")
    @example(user="UADMIN", text="channel <!channel>")
    @example(user="UEMP2", text=f"suggest {article}/ok worth\x00sharing")
    def every_command(user: str, text: str) -> None:
        _on(loop, _check_command(slack, sessions, user, text))

    await asyncio.to_thread(every_command)


async def _posts(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Post)) or 0)


async def _check_queue_form(
    slack: SlackDriver, sessions: Sessions, form: dict[str, dict[str, Any]], metadata: str
) -> None:
    before = await _settled(sessions)
    posts, told = await _posts(sessions), len(_dms(slack, "UADMIN"))
    response = await slack.submit("UADMIN", "queue_modal", form, private_metadata=metadata)
    assert response.status_code == 200
    if response.text:
        answer = response.json()
        assert answer["response_action"] == "errors"
        assert all(isinstance(error, str) and error for error in answer["errors"].values())
        assert not BROKEN & set(answer["errors"].values())
        await slack.settle(0.02)
        after = _comparable(await snapshot(sessions))
        assert after == before, ([name for name in after if after[name] != before[name]], form, answer)
        return

    async def answered() -> bool:  # accepted: the admin is told (queued, or why the page was refused)
        return len(_dms(slack, "UADMIN")) > told

    await eventually(answered)
    assert not BROKEN & set(_dms(slack, "UADMIN")[told:])
    assert await _posts(sessions) in (posts, posts + 1)


def _dms(slack: SlackDriver, user: str) -> list[str]:
    return [
        str(call.params.get("text"))
        for call in slack.fake.calls_to("chat.postMessage")
        if call.params.get("channel") == user
    ]


async def test_every_queue_form_is_answered_and_refusals_change_nothing(
    slack: SlackDriver, sessions: Sessions, article: str
) -> None:
    await _warm_up(slack, ["UADMIN"])
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(submission=queue_forms(article))
    def every_form(submission: tuple[dict[str, dict[str, Any]], str]) -> None:
        form, metadata = submission
        _on(loop, _check_queue_form(slack, sessions, form, metadata))

    await asyncio.to_thread(every_form)


def edit_forms() -> st.SearchStrategy[tuple[dict[str, dict[str, Any]], str]]:
    caption = _mostly(st.one_of(st.none(), _TYPED), st.one_of(_ANY_TEXT, st.sampled_from(HOSTILE), _JSON))
    option = _mostly(
        st.sampled_from([{"value": "linkedin"}, {"value": "x"}, None]),
        st.one_of(st.sampled_from(["myspace", ""]).map(lambda value: {"value": value}), _JSON),
    )
    metadata = _mostly(
        st.just('{"post_id": 1}'),
        st.one_of(st.just(""), _JSON.map(lambda value: json.dumps({"post_id": value})), _ANY_TEXT),
    )
    return st.tuples(
        st.builds(
            lambda text, choice: {
                "caption": {"type": "plain_text_input", "value": text},
                "network": {"type": "radio_buttons", "selected_option": choice},
            },
            caption,
            option,
        ),
        metadata,
    )


async def _check_edit_form(
    slack: SlackDriver, sessions: Sessions, form: dict[str, dict[str, Any]], metadata: str
) -> None:
    before = await _settled(sessions)
    told = len(_dms(slack, "UEMP2"))
    response = await slack.submit("UEMP2", "edit_share_modal", form, private_metadata=metadata)
    assert response.status_code == 200
    if response.text:
        answer = response.json()
        assert answer["response_action"] == "errors"
        assert not BROKEN & set(answer["errors"].values())
        await slack.settle(0.02)
        assert _comparable(await snapshot(sessions)) == before, (form, answer)
        return

    async def answered() -> bool:  # accepted: the member gets their link (or hears the post is gone)
        return len(_dms(slack, "UEMP2")) > told

    await eventually(answered)
    assert not BROKEN & set(_dms(slack, "UEMP2")[told:])


async def test_every_edit_and_share_form_is_answered_and_refusals_change_nothing(
    slack: SlackDriver, sessions: Sessions, article: str
) -> None:
    await _warm_up(slack, ["UEMP2"])
    await slack.command("UADMIN", f"queue {article}/launch Our launch <#C0NEWS|news>")
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(submission=edit_forms())
    def every_form(submission: tuple[dict[str, dict[str, Any]], str]) -> None:
        form, metadata = submission
        _on(loop, _check_edit_form(slack, sessions, form, metadata))

    await asyncio.to_thread(every_form)
