"""The admins' subcommands about posts: `queue`, `list`, `cancel`, `stats` and the default `channel`."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from bot.core import Relais
from bot.flows import acting
from bot.flows.caller import Caller, ChatSurface, Refusal, UnknownChannel
from bot.flows.invocation import Invocation
from bot.flows.queue import OFFERED_NETWORKS, queued_reply
from bot.i18n import url_reason
from bot.messages import Link, Mention, Message, commands, text
from bot.services import erasure, inputs, scores
from bot.services import posts as post_service
from bot.services.preview import UnsafeURL, validate_url
from bot.services.when import WhenError, parse_when, split_trailing_when

STATS_DAYS: Final = 30


def default_channel(core: Relais, caller: Caller) -> str | None:
    """Where a post goes when no channel is named (`bot.services.posts.default_channel`)."""
    return post_service.default_channel(caller.workspace, fallback=core.settings.relais_channel)


async def resolve_channel(surface: ChatSurface, reference: str) -> str:
    """The channel a typed reference names, or the refusal that says it is unknown."""
    try:
        return await surface.resolve_channel(reference)
    except UnknownChannel as exc:
        raise Refusal("unknown_channel", channel=exc.reference) from None


def checked_url(caller: Caller, typed: str) -> str:
    """A typed link, or the refusal that says why it is not one Relais fetches."""
    try:
        return validate_url(typed)
    except UnsafeURL as exc:
        raise Refusal("invalid_url", reason=url_reason(caller.lang, code=exc.code, detail=str(exc))) from None


async def queue(run: Invocation) -> Message | None:
    """`queue <url> [caption] [#channel …] [at <when>]`; `queue` alone opens the form. The channels are
    looked up and the page fetched before the post is queued in its own short transaction."""
    core, caller, surface, args = run.core, run.caller, run.surface, run.args
    if not args:
        default = default_channel(core, caller)
        await surface.open_queue_form((default,) if default else (), caller.lang)
        return None
    url = checked_url(caller, args[0])
    channel_words = [word for word in args[1:] if surface.is_channel_reference(word)]
    words, when_text = split_trailing_when(
        [word for word in args[1:] if not surface.is_channel_reference(word)]
    )
    publish_at = None
    now = core.clock.now()
    if when_text is not None:
        try:
            publish_at = parse_when(when_text, now=now, tz=caller.timezone)
        except WhenError as exc:
            raise Refusal(f"when_{exc.code}", text=when_text) from None
    channels = [await resolve_channel(surface, word) for word in channel_words]
    if not channels:
        default = default_channel(core, caller)
        if default is None:
            raise Refusal("no_channel")
        channels = [default]
    preview = await core.fetcher.fetch(url)
    if preview.error == "private_address":
        raise Refusal("private_url")
    async with run.applying() as (session, author):
        post = await post_service.queue_post(
            session,
            workspace=author.workspace,
            author=author.member,
            preview=preview,
            captions=[surface.for_network(" ".join(words))] if words else [],
            channels=channels,
            networks=list(OFFERED_NETWORKS),
            publish_at=publish_at,
            expires_at=None,
            now=now,
            lang=caller.lang,
        )
    return queued_reply(caller, post, now=now, preview_missing=preview.error is not None)


async def post_list(run: Invocation) -> Message:
    caller = run.caller
    async with run.core.sessions() as session:
        found = await post_service.list_posts(session, workspace_id=caller.workspace.id)
    when = [acting.local(line.publish_at, caller.timezone) if line.publish_at else "" for line in found]
    return commands.post_list(caller.lang, found, when=when)


def post_id(args: tuple[str, ...], command: str) -> int:
    """The post a subcommand names, or the refusal that says which is missing or not a number."""
    if not args:
        raise Refusal("missing_post_id", command=command)
    found = inputs.parse_id(args[0])
    if found is None:
        raise Refusal("not_a_post_id", text=args[0], command=command)
    return found


async def cancel(run: Invocation) -> Message:
    core, workspace_id = run.core, run.caller.workspace.id
    which = post_id(run.args, "cancel")
    async with run.applying() as (session, _):
        await post_service.cancel_post(
            session, workspace_id=workspace_id, post_id=which, now=core.clock.now(), lang=run.lang
        )
    core.cache.forget_post(workspace_id, which)
    return commands.say(run.lang, "cancelled", id=which)


async def channel(run: Invocation) -> Message:
    """`channel #name`: where posts go when none is named (looked up on the platform first)."""
    if not run.args:
        raise Refusal("no_channel")
    found = await resolve_channel(run.surface, run.args[0])
    async with run.applying() as (_, caller):
        caller.workspace.default_channel = found
    return commands.say(run.lang, "channel_set", channel=Mention("channel", found))


async def stats(run: Invocation) -> Message:
    """`stats <id>`: one post's; `stats`: the last `STATS_DAYS` days'."""
    lang, workspace_id = run.lang, run.caller.workspace.id
    erased = 0  # said with the period's figures only
    async with run.core.sessions() as session:
        if run.args:
            which = post_id(run.args, "stats")
            if await post_service.get_post(session, workspace_id=workspace_id, post_id=which) is None:
                raise Refusal("unknown_post", id=which)
            found = await scores.stats(session, workspace_id=workspace_id, post_id=which)
            title = text(lang, "stats_post_title", id=which)
            refused = await post_service.undelivered(session, workspace_id=workspace_id, post_ids=[which])
        else:
            since = run.core.clock.now() - timedelta(days=STATS_DAYS)
            found = await scores.stats(session, workspace_id=workspace_id, since=since)
            title = text(lang, "stats_period_title", days=STATS_DAYS)
            refused = await post_service.undelivered(session, workspace_id=workspace_id, since=since)
            erased = await erasure.erasures(session, workspace_id=workspace_id)
    return commands.stats(lang, found, title=title, refused=refused, erased=erased)


async def dashboard(run: Invocation) -> Message:
    """`dashboard`: the link to `GET /admin` (the page itself checks, again, that its visitor is an admin)."""
    public_url = run.core.settings.public_url
    if not public_url:
        raise Refusal("dashboard_no_public_url")
    url = public_url.rstrip("/") + "/admin"
    return commands.say(run.lang, "dashboard_link", link=Link(url, text(run.lang, "dashboard_link_label")))
