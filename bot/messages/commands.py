"""What `/relais` answers: help, the post list, stats, a member's own figures, the schedules and the
"queued" confirmation. Plain data in, neutral messages out (`bot.messages.model`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.messages.model import Inline, Joined, Link, Mention, Message, Section, Text, lines, text
from bot.messages.post import clip
from bot.services.posts import PostLine, Undelivered
from bot.services.schedules import Schedule
from bot.services.scores import MemberStats, PostStats

ECHO_LIMIT = 100  # characters of typed text echoed back


def say(lang: str, key: str, /, **params: Inline | int | float) -> Message:
    """A one-line answer from the catalogue."""
    return Message(text(lang, key, **params))


def refusal(lang: str, key: str, params: Mapping[str, object]) -> Text:
    """A refusal's catalogue message (a `PostError`'s, say), its parameters shown as they are: numbers as
    numbers, anything else as its text."""
    return Text(lang, key, {name: _shown(value) for name, value in params.items()})


def _shown(value: object) -> str | int | float:
    return value if isinstance(value, str | int | float) else str(value)


def unknown_button(lang: str) -> Message:
    """A click Relais cannot act on (a button it does not know, or one whose id is not one it wrote): said
    so, and nothing is done."""
    return say(lang, "button_unknown")


def unknown_sender(lang: str) -> Message:
    """A click from someone who is not a person of the organisation (a guest of another one, a bot):
    said so, and nothing is done."""
    return say(lang, "sender_unknown")


def paragraph(content: Inline) -> Message:
    """An answer shown as one paragraph (its summary is the same text)."""
    return Message(content, (Section(content),))


def echoed(typed: str) -> str:
    """What someone typed, to be echoed back: shortened when long. It stays a plain `str`, which every
    renderer shows as text (never as a mention or a link)."""
    return clip(typed, ECHO_LIMIT)


def channels(ids: Sequence[str]) -> Joined:
    return Joined(tuple(Mention("channel", channel) for channel in ids), ", ")


def help_message(lang: str, *, admin: bool, lead: Inline | None = None) -> Message:
    """What the caller may do; `lead` (an unknown command, say) comes first."""
    parts: list[Inline] = [lead] if lead is not None else []
    parts += [text(lang, "help_title"), text(lang, "help_employee")]
    if admin:
        parts.append(text(lang, "help_admin"))
    return Message(lines(*parts), tuple(Section(part) for part in parts))


def queued(
    lang: str, *, post_id: int, where: Sequence[str], when: str | None, preview_missing: bool
) -> Message:
    """A post was queued: where it goes, and when (`when`, local time) if later than now."""
    if when is not None:
        said: Inline = text(lang, "queued_later", id=post_id, channels=channels(where), when=when)
    else:
        said = text(lang, "queued_now", id=post_id, channels=channels(where))
    return Message(lines(said, text(lang, "preview_missing")) if preview_missing else said)


def delivery_notes(lang: str, *, not_delivered: Sequence[Undelivered], sending: Sequence[str]) -> Joined:
    """What a post's line in the list adds: the channels that refused it and those still waiting."""
    notes: list[Inline] = []
    if not_delivered:
        refused = Joined(
            tuple(Joined((Mention("channel", x.destination), f" ({x.error})")) for x in not_delivered), ", "
        )
        notes += [" · ⚠️ ", text(lang, "list_not_delivered", channels=refused)]
    if sending:
        notes += [" · ", text(lang, "list_sending", channels=channels(sending))]
    return Joined(tuple(notes))


def post_list(lang: str, posts: Sequence[PostLine], *, when: Sequence[str]) -> Message:
    """The posts, one line each; `when` is each post's publication time as the caller reads it."""
    if not posts:
        return say(lang, "list_empty")
    rendered: list[Inline] = [text(lang, "list_header")]
    for line, at in zip(posts, when, strict=True):
        state = (
            text(lang, f"state_{line.state}", when=at)
            if line.state == "scheduled"
            else text(lang, f"state_{line.state}")
        )
        title = Link(line.url, line.title or line.url)
        said = text(lang, "list_line", id=line.id, state=state, title=title, shares=line.shares)
        rendered.append(
            Joined((said, delivery_notes(lang, not_delivered=line.not_delivered, sending=line.sending)))
        )
    return paragraph(lines(*rendered))


def my_figures(lang: str, mine: MemberStats) -> tuple[Text, Text]:
    """A member's shares, clicks and points, and their rank (or how to get one)."""
    summary = text(
        lang,
        "me_summary",
        week=mine.shares_week,
        total=mine.shares_total,
        clicks=mine.clicks,
        points=mine.points,
    )
    if mine.rank is not None:
        return summary, text(lang, "me_rank", rank=mine.rank, participants=mine.participants)
    return summary, text(lang, "me_no_rank")


def me(lang: str, mine: MemberStats) -> Message:
    return paragraph(lines(*my_figures(lang, mine)))


def undelivered_line(lang: str, items: Sequence[Undelivered]) -> Inline | None:
    """What the stats add: each post and channel that refused it, or None when all went out."""
    if not items:
        return None
    listed = Joined(
        tuple(
            text(
                lang,
                "stats_not_delivered_item",
                id=x.post_id,
                channel=Mention("channel", x.destination),
                error=x.error,
            )
            for x in items
        ),
        ", ",
    )
    return Joined(("⚠️ ", text(lang, "stats_not_delivered", items=listed)))


def stats(
    lang: str, found: PostStats, *, title: Text, refused: Sequence[Undelivered], erased: int = 0
) -> Message:
    """A post's or the period's figures; `erased`: how many members erased their data (a count, never
    who: their shares are in the figures, anonymous)."""
    said = text(
        lang,
        "stats_line",
        shares=found.shares,
        linkedin=found.by_network.get("linkedin", 0),
        x=found.by_network.get("x", 0),
        clicks=found.clicks,
        not_for_me=found.not_for_me,
    )
    if found.top:
        names = Joined(
            tuple(
                Joined((Mention("member", sharer.external_id), f" ({sharer.shares})")) for sharer in found.top
            ),
            ", ",
        )
        top = text(lang, "stats_top", names=names)
    else:
        top = text(lang, "stats_no_sharers")
    not_delivered = undelivered_line(lang, refused)
    extra = [not_delivered] if not_delivered is not None else []
    if erased:
        extra.append(text(lang, "stats_erased", count=erased))
    return paragraph(lines(title, said, top, *extra))


def day_name(lang: str, day: int) -> Text:
    """A weekday (0 = Monday) as the caller reads it: schedules name days in the caller's language."""
    return text(lang, f"schedule_day_{day}")


def schedules_shown(
    lang: str, *, nudges: Schedule, board: Schedule, timezone: str, channel: str | None
) -> Message:
    return paragraph(
        text(
            lang,
            "schedule_show",
            nudges_day=day_name(lang, nudges.day),
            nudges_time=nudges.time_text,
            board_day=day_name(lang, board.day),
            board_time=board.time_text,
            timezone=timezone,
            channel=Mention("channel", channel) if channel else text(lang, "schedule_no_channel"),
        )
    )


def schedule_set(lang: str, schedule: Schedule) -> Message:
    """A schedule was changed: which one, and its day and time, in the caller's language."""
    what = text(lang, f"schedule_what_{schedule.job}")
    return say(lang, "schedule_set", what=what, day=day_name(lang, schedule.day), time=schedule.time_text)
