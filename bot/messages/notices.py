"""Short messages to one member or admin: how an API share went, a connection made or ending, a round's
progress, a channel that refused a post. Dates and times are shown in the member's time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from bot.messages.model import Action, Actions, Mention, Message, Section, Text, text
from bot.messages.post import EDIT_SHARE_ACTION, connect_action, network_name
from bot.notifier import CHANNEL_CAUSES, MESSAGE_CAUSES
from bot.services.members import zone_of
from bot.services.posting import ShareView

UNDO_ACTION: Final = "share_undo"
REPOST_ACTION: Final = "share_repost"
VIEW_POST_ACTION: Final = "view_post"
# The reasons a failed share has its own words for; any other says the share failed.
FAILURE_REASONS: Final = frozenset(
    {
        "unauthorized",
        "not_connected",
        "duplicate",
        "too_long",
        "forbidden",
        "invalid",
        "unavailable",
        "rate_limited",
        "withdrawn",
        "error",
    }
)
# Reasons a connection must be made again before anything else can be done.
RECONNECT_REASONS: Final = frozenset({"unauthorized", "not_connected"})


def local_time(moment: datetime, timezone: str | None, *, now: datetime) -> str:
    """`HH:MM` in the member's time zone (UTC when unknown), with the date when it is not today."""
    zone = zone_of(timezone)
    local = moment.astimezone(zone)
    same_day = local.date() == now.astimezone(zone).date()
    return local.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


def local_date(moment: datetime, timezone: str | None) -> str:
    """The day `moment` falls on in the member's time zone (UTC when unknown), as YYYY-MM-DD."""
    return moment.astimezone(zone_of(timezone)).date().isoformat()


def share_outcome(
    share: ShareView, lang: str, *, retry_time: str | None = None, fresh: bool = True
) -> Message:
    """What the member is told about an API share, and what they can do next (view or undo a post, post
    it after all, reconnect, edit and share again). `fresh` is False when the click found an existing
    share (already posted, already on its way); `retry_time` is when a busy network is tried again."""
    network = share.network.value
    name = network_name(lang, network)
    value = str(share.share_id)
    buttons: list[Action] = []
    status = share.status.value
    wording: Text
    if status == "posted" and share.reason in RECONNECT_REASONS:  # an Undo that could not run
        wording = text(lang, "undo_needs_reconnect", network=name)
        buttons.append(connect_action(lang, network, again=True))
    elif status == "posted":
        if share.reason == "undo_failed":
            wording = text(lang, "undo_failed", network=name)
        else:
            wording = text(lang, "share_posted" if fresh else "share_already_posted", network=name)
        if share.external_url:
            buttons.append(Action(VIEW_POST_ACTION, text(lang, "view_post"), url=share.external_url))
        buttons.append(Action(UNDO_ACTION, text(lang, "undo_share"), value=value))
    elif status == "undone":
        wording = text(lang, "share_undone", network=name)
    elif status in ("pending", "retrying"):
        if retry_time is not None:
            wording = text(lang, "share_retrying", network=name, time=retry_time)
        else:
            wording = text(lang, "share_on_its_way", network=name)
    elif status == "unknown":
        wording = text(lang, "share_unclear" if share.reason == "unclear" else "share_unknown", network=name)
        buttons.append(Action(REPOST_ACTION, text(lang, "repost_share"), value=value))
    else:
        reason = share.reason or "error"
        wording = text(lang, f"share_failed_{reason if reason in FAILURE_REASONS else 'error'}", network=name)
        if reason in RECONNECT_REASONS:
            buttons.append(connect_action(lang, network, again=True))
        elif reason in ("duplicate", "too_long"):
            edit = text(lang, "edit_and_share")
            buttons.append(Action(EDIT_SHARE_ACTION, edit, value=str(share.post_id), style="primary"))
    if not buttons:
        return Message(wording, (Section(wording),))
    return Message(wording, (Section(wording), Actions(tuple(buttons), id=f"share_outcome:{value}")))


def connected(*, network: str, lang: str) -> Message:
    wording = text(lang, "connected_confirmation", network=network_name(lang, network))
    return Message(wording, (Section(wording),))


def expiring(*, network: str, expires_at: datetime, timezone: str | None, lang: str) -> Message:
    """A connection that cannot be refreshed ends soon: the day it ends (in the member's zone), and a
    Reconnect button."""
    wording = text(
        lang,
        "connection_expiring",
        network=network_name(lang, network),
        date=local_date(expires_at, timezone),
    )
    return Message(wording, (Section(wording), Actions((connect_action(lang, network, again=True),))))


def number(n: int, lang: str) -> str:
    """1,200 in English, 1 200 in French (a narrow no-break space)."""
    return f"{n:,}".replace(",", "\u202f") if lang == "fr" else f"{n:,}"


def progress(*, what: str, done: int, total: int, lang: str) -> Message:
    """How far a round (this week's reminders, a post into many channels) has got; edited as it goes."""
    key = "progress_done" if done >= total else "progress_line"
    wording = text(
        lang, key, what=text(lang, f"progress_{what}"), done=number(done, lang), total=number(total, lang)
    )
    return Message(wording, (Section(wording),))


def admin_alert(*, channel: str, cause: str | None, error: str, lang: str) -> Message:
    """A channel Relais can no longer post in, and what the admin can do about it: in words of its own
    for each cause a notifier reports (`bot.notifier.CHANNEL_CAUSES`), worded for any platform; else
    naming the platform's own error."""
    where = Mention("channel", channel)
    if cause in CHANNEL_CAUSES:
        wording = text(lang, f"channel_problem_{cause}", channel=where)
    else:
        wording = text(lang, "channel_problem_other", channel=where, error=error)
    return Message(wording, (Section(wording),))


def refusal_reason(lang: str, cause: str | None, error: str) -> Text:
    """Why a channel refused a message, in words an admin can act on (by the notifier's cause), naming
    the platform's own error where a bug in Relais is to be reported."""
    if cause in MESSAGE_CAUSES:
        return text(lang, f"refusal_{cause}", error=error)
    if cause in CHANNEL_CAUSES:
        return text(lang, f"refusal_{cause}")
    return text(lang, "refusal_other", error=error)


def post_refused(*, post_id: int, channel: str, cause: str | None, error: str, lang: str) -> Message:
    """To the admin who queued a post: a channel did not take it, and why."""
    wording = text(
        lang,
        "post_refused",
        id=post_id,
        channel=Mention("channel", channel),
        reason=refusal_reason(lang, cause, error),
    )
    return Message(wording, (Section(wording),))
