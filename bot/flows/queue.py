"""The queue form, whatever the chat platform: what an admin submitted is checked field by field before
the platform answers the submission (each problem said under its field, nothing changed); then the page
is fetched, the post queued (and the suggestion the form was opened to approve, approved) and the admin
told where and when it goes.

A platform reads its own form into a `QueueForm` (the values as they came back, unchecked) and shows the
refusals under the fields they name (`FormRefusals`; what concerns the whole form is said under the
link's field); it decides nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from bot.core import Relais
from bot.flows import acting
from bot.flows import suggestions as suggestion_flow
from bot.flows.caller import Caller, FormRefusals
from bot.i18n import url_reason
from bot.messages import Inline, Message, text
from bot.messages.commands import queued, refusal, say
from bot.messages.post import NETWORK_ORDER, network_name
from bot.services import members
from bot.services import posts as post_service
from bot.services.inputs import parse_date, parse_stamp
from bot.services.posts import MAX_CAPTIONS, PostError, check_captions
from bot.services.preview import UnsafeURL, validate_url
from bot.services.when import WhenError, end_of_day, within_horizon
from models import Network, Post

logger = logging.getLogger(__name__)

# The form's fields, as refusals name them.
URL: Final = "url"
NETWORKS: Final = "networks"
CHANNELS: Final = "channels"
PUBLISH_AT: Final = "publish_at"
EXPIRES_ON: Final = "expires_on"

# The networks a queued post offers unless the admin picks: all of them, in the order buttons show them
# (the form opens with each ticked; `/relais queue` offers them all).
OFFERED_NETWORKS: Final = NETWORK_ORDER
_KNOWN_NETWORKS: Final = frozenset(network.value for network in Network)
_SHOWN_REFERENCE: Final = 80  # characters of an unknown channel named back


def caption_field(index: int) -> str:
    """The field of the `index`-th caption (from 1)."""
    return f"caption_{index}"


@dataclass(frozen=True)
class Choice:
    """One option of a form's field: its value, its label, and whether it is chosen when the form opens."""

    value: str
    label: Inline
    chosen: bool


@dataclass(frozen=True)
class FormSpec:
    """What the queue form offers that the core decides: the networks (field `NETWORKS`), labelled in the
    admin's language, and which are ticked when it opens."""

    networks: tuple[Choice, ...]


def form_spec(lang: str) -> FormSpec:
    """The queue form's choices, for the platform that draws it."""
    return FormSpec(
        networks=tuple(Choice(network, network_name(lang, network), True) for network in OFFERED_NETWORKS)
    )


@dataclass(frozen=True)
class QueueForm:
    """The queue form as the platform read it back, unchecked: the link; the captions in field order
    ("" for an empty one, up to `MAX_CAPTIONS`); the networks and channels picked (`unknown_channels`:
    what the platform's channel picker sent that it does not recognise as a channel of its own); the
    publication moment as picked (seconds since 1970, a number or digits; None or "" for now); the expiry
    day ("YYYY-MM-DD"; None or "" for none); and the suggestion the form was opened to approve, with
    `trusted` False when what the platform carried back with the form is not what Relais put there."""

    url: str = ""
    captions: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    unknown_channels: tuple[str, ...] = ()
    publish_at: object = None
    expires_on: object = None
    suggestion_id: int | None = None
    trusted: bool = True


@dataclass(frozen=True)
class Checked:
    """A queue form that passed every check, with the moment it was checked at (the post's `now`)."""

    url: str
    captions: tuple[str, ...]
    networks: tuple[str, ...]
    channels: tuple[str, ...]
    publish_at: datetime | None
    expires_at: datetime | None
    suggestion_id: int | None
    now: datetime


def check(core: Relais, caller: Caller, form: QueueForm) -> Checked | FormRefusals:
    """The submitted form ready to queue, or why each refused field is (in the caller's language). Only
    admins queue. Fast and without I/O: it runs before the platform answers the submission."""
    lang = caller.lang
    if not caller.admin:
        return {URL: text(lang, "not_admin", command="queue")}
    now = core.clock.now()
    refused: FormRefusals = {}
    url = ""
    try:
        url = validate_url(form.url)
    except UnsafeURL as exc:
        refused[URL] = text(lang, "invalid_url", reason=url_reason(lang, code=exc.code, detail=str(exc)))
    captions = tuple(caption.strip() for caption in form.captions)
    networks = form.networks
    if not networks or not set(networks) <= _KNOWN_NETWORKS:
        refused[NETWORKS] = text(lang, "no_network")
    for index, caption in enumerate(captions, start=1):
        try:
            if index > MAX_CAPTIONS:
                raise PostError("too_many_captions", limit=MAX_CAPTIONS)
            check_captions([caption] if caption else [], list(networks))
        except PostError as error:
            refused[caption_field(index)] = refusal(lang, error.code, error.params)
    if form.unknown_channels:
        refused[CHANNELS] = text(lang, "unknown_channel", channel=form.unknown_channels[0][:_SHOWN_REFERENCE])
    elif not form.channels:
        refused[CHANNELS] = text(lang, "no_channel")
    publish_at = _publish_at(form.publish_at, lang, now, refused)
    zone = members.zone_of(caller.timezone)
    expires_at = _expires_at(form.expires_on, lang, zone, publish_at or now, refused)
    if not form.trusted:
        refused[URL] = text(lang, "form_outdated")
    if refused:
        return refused
    return Checked(
        url=url,
        captions=tuple(caption for caption in captions if caption),
        networks=networks,
        channels=form.channels,
        publish_at=publish_at,
        expires_at=expires_at,
        suggestion_id=form.suggestion_id,
        now=now,
    )


def _publish_at(picked: object, lang: str, now: datetime, refused: FormRefusals) -> datetime | None:
    """The picked publication moment (None: now), if a publication may be set then."""
    if picked is None or picked == "":
        return None
    at = parse_stamp(picked)
    try:
        if at is None:
            raise WhenError("bad_date", str(picked))
        return within_horizon(at, now=now, text=str(picked))
    except WhenError as error:
        key = {"past": "publish_at_past", "too_far": "publish_at_too_far"}.get(error.code, "bad_date")
        refused[PUBLISH_AT] = text(lang, key)
        return None


def _expires_at(
    picked: object, lang: str, zone: ZoneInfo, after: datetime, refused: FormRefusals
) -> datetime | None:
    """The end of the picked expiry day in the admin's zone (a post expires after its last day)."""
    if picked is None or picked == "":
        return None
    day = parse_date(picked)
    try:
        if day is None:
            raise WhenError("bad_date", str(picked))
        return end_of_day(day, zone=zone, after=after)
    except WhenError as error:
        key = {"past": "expiry_before_publish", "too_far": "expiry_too_far"}.get(error.code, "bad_date")
        refused[EXPIRES_ON] = text(lang, key)
        return None


async def submit(core: Relais, caller: Caller, form: Checked) -> Message:
    """After the platform answered the submission: the page is fetched (outside any transaction), the
    post queued and the suggestion approved in one commit, and the admin told where and when it goes (or
    why the page was refused). Never raises: a failure is logged and answered "something went wrong"."""
    try:
        preview = await core.fetcher.fetch(form.url)
        if preview.error == "private_address":
            return say(caller.lang, "private_url")
        async with core.sessions() as session:
            found = await acting.caller_in(core, session, caller)
            post = await post_service.queue_post(
                session,
                workspace=found.workspace,
                author=found.member,
                preview=preview,
                captions=list(form.captions),
                channels=list(form.channels),
                networks=list(form.networks),
                publish_at=form.publish_at,
                expires_at=form.expires_at,
                now=form.now,
                lang=caller.lang,
            )
            if form.suggestion_id is not None:
                await suggestion_flow.approved(
                    session,
                    workspace_id=found.workspace.id,
                    suggestion_id=form.suggestion_id,
                    post_id=post.id,
                    admin=found.member,
                    now=form.now,
                )
            await session.commit()
    except Exception:
        logger.exception("queueing a post from the queue form failed")
        return say(caller.lang, "something_went_wrong")
    return queued_reply(caller, post, now=form.now, preview_missing=preview.error is not None)


def queued_reply(caller: Caller, post: Post, *, now: datetime, preview_missing: bool) -> Message:
    """What an admin is told once a post is queued (by the form or by command): where it goes, and when
    in their own time if later than `now`."""
    later = post.publish_at is not None and post.publish_at > now
    return queued(
        caller.lang,
        post_id=post.id,
        where=post.channels,
        when=acting.local(post.publish_at, caller.timezone) if later and post.publish_at else None,
        preview_missing=preview_missing,
    )
