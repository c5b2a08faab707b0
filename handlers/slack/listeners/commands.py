"""`/relais …`: ack at once, then work out who is asking, run the subcommand, answer ephemerally."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core import Relais
from bot.i18n import parse_language, url_reason
from bot.services import inputs, schedules, scores, suggestions, weekly
from bot.services import members as member_service
from bot.services import posts as post_service
from bot.services.inputs import InputError
from bot.services.posts import PostError
from bot.services.preview import UnsafeURL, validate_url
from bot.services.when import WhenError, parse_when, split_trailing_when
from handlers.slack.blocks import Blocks, link, section, shown
from handlers.slack.blocks.delivery import delivery_notes, undelivered_line
from handlers.slack.blocks.help import build_help
from handlers.slack.blocks.modals import QueueForm, build_queue_modal
from handlers.slack.blocks.social import build_connections
from handlers.slack.channels import UnknownChannel, is_channel_token, mention, plain_text, resolve_channel
from handlers.slack.deps import relais
from handlers.slack.identity import acting_member
from handlers.slack.outbox import drain_outbox
from handlers.slack.social import connect_reply, disconnect_reply, member_connections
from handlers.slack.suggestions import send_reviews
from handlers.slack.text import t
from models import Member, Network, Workspace

logger = logging.getLogger(__name__)

ADMIN_COMMANDS = frozenset({"queue", "list", "cancel", "stats", "channel", "schedule"})
MAX_PAUSE_WEEKS = 52
MAX_REASON = 1000  # characters of a suggestion's reason
# The whole text of one command; Slack's own box holds far less, so only a forged request comes near.
MAX_COMMAND_TEXT = 12_000


class Refusal(Exception):
    """A message key (and its parameters) to show the caller instead of doing anything."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass
class Caller:
    workspace: Workspace
    member: Member
    lang: str
    admin: bool
    channel_id: str | None
    trigger_id: str | None

    @property
    def timezone(self) -> str:
        return self.member.timezone or self.workspace.timezone or "UTC"


@dataclass(frozen=True)
class Reply:
    """What the caller sees; `text` None means the answer was a modal, nothing to post."""

    text: str | None
    blocks: Blocks | None = None


Subcommand = Callable[[Relais, AsyncSession, AsyncWebClient, Caller, list[str]], Awaitable[Reply]]


async def handle_relais_command(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    deps = relais(context)
    text = str(command.get("text") or "")
    words = text.split()
    name = words[0].lower() if words else "help"
    lang = "en"
    try:
        async with deps.sessions() as session:
            caller = await _caller(deps, session, client, command)
            lang = caller.lang
            inputs.check_text(text, limit=MAX_COMMAND_TEXT)
            handler = SUBCOMMANDS.get(name)
            if handler is None:
                reply = _help(caller, lead=t(lang, "unknown_command", command=shown(name)) if words else None)
            elif name in ADMIN_COMMANDS and not caller.admin:
                reply = Reply(t(lang, "not_admin", command=name))
            else:
                reply = await handler(deps, session, client, caller, words[1:])
            await session.commit()
    except (Refusal, PostError, InputError) as refusal:
        key = refusal.key if isinstance(refusal, Refusal) else refusal.code
        reply = Reply(t(lang, key, **_echoed(refusal.params)))
    except Exception:
        logger.exception("/relais %s failed", name)
        reply = Reply(t(lang, "something_went_wrong"))
    if reply.text is not None:
        await respond(text=reply.text, blocks=reply.blocks, response_type="ephemeral")
    await drain_outbox(deps, client)


async def _caller(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, command: dict[str, Any]
) -> Caller:
    """The caller, identified before the command's own transaction (no write stays open across the
    profile look-up), then loaded into the command's session so that what the command changes on them
    is saved with it."""
    known_workspace, known_member = await acting_member(deps, client, command["team_id"], command["user_id"])
    workspace = await session.get_one(Workspace, known_workspace.id)
    member = await session.get_one(Member, known_member.id)
    return Caller(
        workspace=workspace,
        member=member,
        lang=member_service.language_of(member),
        admin=member_service.is_admin(member, admins=deps.settings.relais_admins),
        channel_id=command.get("channel_id"),
        trigger_id=command.get("trigger_id"),
    )


def _echoed(params: dict[str, object]) -> dict[str, object]:
    """A refusal's parameters as the caller sees them: typed text shown as typed (never as a mention or
    a link) and clipped."""
    return {name: shown(value) if isinstance(value, str) else value for name, value in params.items()}


def _help(caller: Caller, *, lead: str | None = None) -> Reply:
    text, blocks = build_help(caller.lang, admin=caller.admin, lead=lead)
    return Reply(text, blocks)


def _local(at: datetime, tz: str) -> str:
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# -- subcommands ------------------------------------------------------------------------------------


async def _cmd_help(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    if args and args[0].lower() == "points":
        text = t(caller.lang, "help_points")
        return Reply(text, [section(text)])
    return _help(caller)


async def _cmd_queue(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    if not args:
        default = caller.workspace.default_channel or deps.settings.relais_channel
        form = QueueForm(channels=(default,) if default else ())
        await client.views_open(trigger_id=caller.trigger_id, view=build_queue_modal(form, caller.lang))
        return Reply(None)
    try:
        url = validate_url(args[0])
    except UnsafeURL as exc:
        raise Refusal("invalid_url", reason=url_reason(caller.lang, code=exc.code, detail=str(exc))) from None
    channel_words = [word for word in args[1:] if is_channel_token(word)]
    words, when_text = split_trailing_when([word for word in args[1:] if not is_channel_token(word)])
    publish_at = None
    now = deps.clock.now()
    if when_text is not None:
        try:
            publish_at = parse_when(when_text, now=now, tz=caller.timezone)
        except WhenError as exc:
            raise Refusal(f"when_{exc.code}", text=when_text) from None
    channels: list[str] = []
    for word in channel_words:
        try:
            channels.append(await resolve_channel(client, word))
        except UnknownChannel as exc:
            raise Refusal("unknown_channel", channel=exc.reference) from None
    caption_words = words
    if not channels:
        default = caller.workspace.default_channel or deps.settings.relais_channel
        if default is None:
            raise Refusal("no_channel")
        channels = [default]
    preview = await deps.fetcher.fetch(url)
    if preview.error == "private_address":
        raise Refusal("private_url")
    post = await post_service.queue_post(
        session,
        workspace=caller.workspace,
        author=caller.member,
        preview=preview,
        captions=[plain_text(" ".join(caption_words))] if caption_words else [],
        channels=channels,
        networks=["linkedin", "x"],
        publish_at=publish_at,
        expires_at=None,
        now=now,
        lang=caller.lang,
    )
    where = ", ".join(mention(channel) for channel in post.channels)
    if publish_at is not None and post.publish_at is not None and post.publish_at > now:
        text = t(
            caller.lang,
            "queued_later",
            id=post.id,
            channels=where,
            when=_local(post.publish_at, caller.timezone),
        )
    else:
        text = t(caller.lang, "queued_now", id=post.id, channels=where)
    if preview.error is not None:
        text += "\n" + t(caller.lang, "preview_missing")
    return Reply(text)


async def _cmd_list(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    lines = await post_service.list_posts(session, workspace_id=caller.workspace.id)
    if not lines:
        return Reply(t(caller.lang, "list_empty"))
    rendered = [t(caller.lang, "list_header")]
    for line in lines:
        when = _local(line.publish_at, caller.timezone) if line.publish_at else ""
        state = (
            t(caller.lang, f"state_{line.state}", when=when)
            if line.state == "scheduled"
            else t(caller.lang, f"state_{line.state}")
        )
        rendered.append(
            t(
                caller.lang,
                "list_line",
                id=line.id,
                state=state,
                title=link(line.url, line.title or line.url),
                shares=line.shares,
            )
            + delivery_notes(caller.lang, not_delivered=line.not_delivered, sending=line.sending)
        )
    text = "\n".join(rendered)
    return Reply(text, [section(text)])


def _post_id(args: list[str], command: str) -> int:
    if not args:
        raise Refusal("missing_post_id", command=command)
    post_id = inputs.parse_id(args[0])
    if post_id is None:
        raise Refusal("not_a_post_id", text=args[0], command=command)
    return post_id


async def _cmd_cancel(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    post_id = _post_id(args, "cancel")
    await post_service.cancel_post(
        session, workspace_id=caller.workspace.id, post_id=post_id, now=deps.clock.now(), lang=caller.lang
    )
    deps.cache.forget_post(caller.workspace.id, post_id)
    return Reply(t(caller.lang, "cancelled", id=post_id))


async def _cmd_channel(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    if not args:
        raise Refusal("no_channel")
    try:
        channel = await resolve_channel(client, args[0])
    except UnknownChannel as exc:
        raise Refusal("unknown_channel", channel=exc.reference) from None
    caller.workspace.default_channel = channel
    return Reply(t(caller.lang, "channel_set", channel=mention(channel)))


async def _cmd_pause(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    weeks = inputs.parse_whole(args[0], low=1, high=MAX_PAUSE_WEEKS) if args else 1
    if weeks is None:
        raise Refusal("bad_weeks")
    until = deps.clock.now() + timedelta(weeks=weeks)
    caller.member.paused_until = until
    return Reply(t(caller.lang, "paused_until", date=_local(until, caller.timezone)[:10]))


async def _cmd_resume(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    caller.member.paused_until = None
    caller.member.opted_out = False
    return Reply(t(caller.lang, "resumed"))


async def _cmd_optout(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    caller.member.opted_out = True
    return Reply(t(caller.lang, "opted_out"))


async def _cmd_lang(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    language = parse_language(args[0]) if args else None
    if language is None:
        raise Refusal("lang_unknown")
    caller.member.language = language
    deps.cache.forget_member(caller.workspace.external_id, caller.member.external_id)
    return Reply(t(language, "lang_set"))


async def _cmd_me(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    mine = await scores.member_stats(
        session, workspace_id=caller.workspace.id, member_id=caller.member.id, now=deps.clock.now()
    )
    lines = [
        t(
            caller.lang,
            "me_summary",
            week=mine.shares_week,
            total=mine.shares_total,
            clicks=mine.clicks,
            points=mine.points,
        ),
        t(caller.lang, "me_rank", rank=mine.rank, participants=mine.participants)
        if mine.rank is not None
        else t(caller.lang, "me_no_rank"),
    ]
    text = "\n".join(lines)
    return Reply(text, [section(text)])


STATS_DAYS = 30


async def _cmd_stats(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    if args:
        post_id = _post_id(args, "stats")
        if await post_service.get_post(session, workspace_id=caller.workspace.id, post_id=post_id) is None:
            raise Refusal("unknown_post", id=post_id)
        found = await scores.stats(session, workspace_id=caller.workspace.id, post_id=post_id)
        title = t(caller.lang, "stats_post_title", id=post_id)
        refused = await post_service.undelivered(
            session, workspace_id=caller.workspace.id, post_ids=[post_id]
        )
    else:
        since = deps.clock.now() - timedelta(days=STATS_DAYS)
        found = await scores.stats(session, workspace_id=caller.workspace.id, since=since)
        title = t(caller.lang, "stats_period_title", days=STATS_DAYS)
        refused = await post_service.undelivered(session, workspace_id=caller.workspace.id, since=since)
    line = t(
        caller.lang,
        "stats_line",
        shares=found.shares,
        linkedin=found.by_network.get("linkedin", 0),
        x=found.by_network.get("x", 0),
        clicks=found.clicks,
        not_for_me=found.not_for_me,
    )
    if found.top:
        names = ", ".join(f"<@{sharer.external_id}> ({sharer.shares})" for sharer in found.top)
        top = t(caller.lang, "stats_top", names=names)
    else:
        top = t(caller.lang, "stats_no_sharers")
    not_delivered = undelivered_line(caller.lang, refused)
    text = "\n".join([title, line, top] + ([not_delivered] if not_delivered else []))
    return Reply(text, [section(text)])


async def _cmd_suggest(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    if not args:
        raise Refusal("missing_url", command="suggest")
    try:
        url = validate_url(args[0])
    except UnsafeURL as exc:
        raise Refusal("invalid_url", reason=url_reason(caller.lang, code=exc.code, detail=str(exc))) from None
    admins = await suggestions.admin_ids(
        session, workspace_id=caller.workspace.id, configured=deps.settings.relais_admins
    )
    if not admins:
        raise Refusal("suggest_no_admins")
    suggestion = await suggestions.suggest(
        session,
        workspace_id=caller.workspace.id,
        member=caller.member,
        url=url,
        reason=inputs.check_text(plain_text(" ".join(args[1:])), limit=MAX_REASON),
        now=deps.clock.now(),
    )
    # Saved before the admins are asked: no write transaction stays open across Slack calls (on SQLite
    # every other writer would wait). Where each review went is saved with the command's commit.
    await session.commit()
    sent = await send_reviews(
        session, client, suggestion=suggestion, author_id=caller.member.external_id, admins=admins
    )
    return Reply(t(caller.lang, "suggest_sent" if sent else "suggest_unsent"))


async def _cmd_schedule(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    """`schedule`: show; `schedule nudges <day> <HH:MM>`; `schedule leaderboard <day> <HH:MM> [#channel]`.
    Setting the leaderboard's also makes the admin's Slack time zone the workspace's (its clock)."""
    workspace, lang = caller.workspace, caller.lang
    if not args:
        nudges = schedules.schedule_of(workspace, schedules.NUDGES)
        board = schedules.schedule_of(workspace, schedules.LEADERBOARD)
        channel = board.channel or workspace.default_channel or deps.settings.relais_channel
        text = t(
            lang,
            "schedule_show",
            nudges_day=nudges.day_name,
            nudges_time=nudges.time_text,
            board_day=board.day_name,
            board_time=board.time_text,
            timezone=workspace.timezone,
            channel=mention(channel) if channel else t(lang, "schedule_no_channel"),
        )
        return Reply(text, [section(text)])
    job = args[0].lower()
    if job not in schedules.SCHEDULED_JOBS or len(args) < 3:
        raise Refusal("schedule_usage")
    try:
        day, at = schedules.parse_day(args[1]), schedules.parse_time(args[2])
        timezone = caller.member.timezone or workspace.timezone
        schedules.zone(timezone)
    except schedules.ScheduleError as error:
        raise Refusal(f"schedule_{error.code}") from None
    channel = None
    if job == schedules.NUDGES:
        if day >= 5:
            raise Refusal("schedule_weekend")
        if not weekly.WORK_START <= at < weekly.WORK_END:
            raise Refusal("schedule_outside_hours")
    elif len(args) > 3:
        try:
            channel = await resolve_channel(client, args[3])
        except UnknownChannel as exc:
            raise Refusal("unknown_channel", channel=exc.reference) from None
    if job == schedules.LEADERBOARD:
        workspace.timezone = timezone  # the leaderboard's clock is the workspace's
    schedules.set_schedule(workspace, schedules.Schedule(job, day, at, channel), lang=lang)
    what = t(lang, f"schedule_what_{job}")
    return Reply(t(lang, "schedule_set", what=what, day=schedules.DAYS[day], time=at.strftime("%H:%M")))


NETWORK_WORDS = {"linkedin": Network.LINKEDIN, "x": Network.X, "twitter": Network.X}


async def _cmd_connect(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    """`connect <network>`: a personal link; `connect` alone: where each network stands, with buttons."""
    await session.commit()  # what identifying the caller wrote; the replies below use their own sessions
    if not args:
        return Reply(*build_connections(await member_connections(deps, caller.member.id), caller.lang))
    network = NETWORK_WORDS.get(args[0].lower())
    if network is None:
        raise Refusal("unknown_network", command="connect")
    return Reply(*await connect_reply(deps, caller.member, network, caller.lang))


async def _cmd_disconnect(
    deps: Relais, session: AsyncSession, client: AsyncWebClient, caller: Caller, args: list[str]
) -> Reply:
    network = NETWORK_WORDS.get(args[0].lower()) if args else None
    if network is None:
        raise Refusal("unknown_network", command="disconnect")
    await session.commit()  # what identifying the caller wrote; disconnecting uses its own sessions
    return Reply(await disconnect_reply(deps, caller.member, network, caller.lang))


SUBCOMMANDS: dict[str, Subcommand] = {
    "help": _cmd_help,
    "aide": _cmd_help,
    "queue": _cmd_queue,
    "list": _cmd_list,
    "cancel": _cmd_cancel,
    "channel": _cmd_channel,
    "pause": _cmd_pause,
    "resume": _cmd_resume,
    "optout": _cmd_optout,
    "lang": _cmd_lang,
    "me": _cmd_me,
    "stats": _cmd_stats,
    "suggest": _cmd_suggest,
    "schedule": _cmd_schedule,
    "connect": _cmd_connect,
    "disconnect": _cmd_disconnect,
}
