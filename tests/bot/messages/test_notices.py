"""Notices as neutral messages: what a member is told about an API share and which buttons follow, a
connection made or ending (its date in the member's zone), a round's progress, a refused channel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.messages import Action, Actions, Mention, Message, Section, Text
from bot.messages.notices import (
    admin_alert,
    connected,
    expiring,
    local_date,
    local_time,
    post_refused,
    progress,
    share_outcome,
)
from bot.services.posting import ShareView
from models import Network, ShareStatus

X = Text("en", "network_x", {})
RECONNECT = Action("connect_x", Text("en", "reconnect_network", {"network": X}), value="x")


def _view(status: ShareStatus, reason: str | None = None, url: str | None = None) -> ShareView:
    return ShareView(11, 7, Network.X, status, reason, url)


def _buttons(message: Message) -> tuple[Action, ...]:
    rows = [part for part in message.parts if isinstance(part, Actions)]
    assert all(row.id == "share_outcome:11" for row in rows)
    return rows[0].items if rows else ()


UNDO = Action("share_undo", Text("en", "undo_share", {}), value="11")
VIEW = Action("view_post", Text("en", "view_post", {}), url="https://x.com/p/1")


@pytest.mark.parametrize(
    ("view", "fresh", "key", "buttons"),
    [
        (_view(ShareStatus.POSTED, url="https://x.com/p/1"), True, "share_posted", (VIEW, UNDO)),
        (_view(ShareStatus.POSTED), False, "share_already_posted", (UNDO,)),
        (_view(ShareStatus.POSTED, "undo_failed"), True, "undo_failed", (UNDO,)),
        (_view(ShareStatus.POSTED, "unauthorized"), True, "undo_needs_reconnect", (RECONNECT,)),
        (_view(ShareStatus.UNDONE), False, "share_undone", ()),
        (_view(ShareStatus.PENDING), True, "share_on_its_way", ()),
        (
            _view(ShareStatus.UNKNOWN),
            True,
            "share_unknown",
            (Action("share_repost", Text("en", "repost_share", {}), value="11"),),
        ),
        (
            _view(ShareStatus.UNKNOWN, "unclear"),
            True,
            "share_unclear",
            (Action("share_repost", Text("en", "repost_share", {}), value="11"),),
        ),
        (_view(ShareStatus.FAILED, "not_connected"), True, "share_failed_not_connected", (RECONNECT,)),
        (
            _view(ShareStatus.FAILED, "duplicate"),
            True,
            "share_failed_duplicate",
            (Action("edit_share", Text("en", "edit_and_share", {}), value="7", style="primary"),),
        ),
        (_view(ShareStatus.FAILED, "forbidden"), True, "share_failed_forbidden", ()),
        (_view(ShareStatus.FAILED, "no_such_reason"), True, "share_failed_error", ()),
        (_view(ShareStatus.FAILED), True, "share_failed_error", ()),
    ],
)
def test_each_share_outcome_has_its_words_and_its_next_steps(
    view: ShareView, fresh: bool, key: str, buttons: tuple[Action, ...]
) -> None:
    message = share_outcome(view, "en", fresh=fresh)
    assert message.summary == Text("en", key, {"network": X})
    assert message.parts[0] == Section(message.summary)
    assert _buttons(message) == buttons


def test_a_busy_network_says_when_it_is_tried_again() -> None:
    message = share_outcome(_view(ShareStatus.RETRYING), "fr", retry_time="14:05")
    assert message.summary == Text(
        "fr", "share_retrying", {"network": Text("fr", "network_x", {}), "time": "14:05"}
    )


def test_times_and_dates_are_the_members_own() -> None:
    moment = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    now = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    assert local_time(moment, "UTC", now=now) == "23:30"
    assert local_time(moment, "Europe/Paris", now=now) == "2026-12-02 00:30"  # tomorrow in Paris
    assert local_time(moment, "Not/AZone", now=now) == "23:30"
    assert local_date(moment, "Europe/Paris") == "2026-12-02"
    assert local_date(moment, None) == "2026-12-01"


def test_an_expiring_connection_gives_its_last_day_in_the_members_zone_and_a_reconnect_button() -> None:
    message = expiring(
        network="x", expires_at=datetime(2026, 12, 1, 23, 30, tzinfo=UTC), timezone="Europe/Paris", lang="en"
    )
    assert message.summary == Text("en", "connection_expiring", {"network": X, "date": "2026-12-02"})
    assert message.parts[1] == Actions((RECONNECT,))


def test_connected() -> None:
    message = connected(network="linkedin", lang="fr")
    assert message.summary == Text(
        "fr", "connected_confirmation", {"network": Text("fr", "network_linkedin", {})}
    )


@pytest.mark.parametrize(
    ("lang", "done", "total", "key", "shown"),
    [
        ("en", 1200, 3400, "progress_line", ("1,200", "3,400")),
        ("fr", 1200, 3400, "progress_line", ("1\u202f200", "3\u202f400")),
        ("en", 5, 5, "progress_done", ("5", "5")),
    ],
)
def test_progress(lang: str, done: int, total: int, key: str, shown: tuple[str, str]) -> None:
    message = progress(what="nudges", done=done, total=total, lang=lang)
    what = Text(lang, "progress_nudges", {})
    assert message.summary == Text(lang, key, {"what": what, "done": shown[0], "total": shown[1]})


def test_channels_are_mentions_never_platform_markup() -> None:
    alert = admin_alert(channel="C123", cause="channel_archived", error="is_archived", lang="en")
    assert alert.summary == Text(
        "en", "channel_problem_channel_archived", {"channel": Mention("channel", "C123")}
    )
    refused = post_refused(post_id=42, channel="C9", cause="not_a_member", error="not_in_channel", lang="fr")
    assert refused.summary == Text(
        "fr",
        "post_refused",
        {"id": 42, "channel": Mention("channel", "C9"), "reason": Text("fr", "refusal_not_a_member", {})},
    )
    other = post_refused(post_id=42, channel="C9", cause=None, error="weird", lang="en")
    assert isinstance(other.summary, Text)
    assert other.summary.params["reason"] == Text("en", "refusal_other", {"error": "weird"})
