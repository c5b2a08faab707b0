"""Clicks on Relais's cards in Teams: `Action.Execute` (an `adaptiveCard/action` invoke, answered in the
HTTP response) and its `Action.Submit` fallback (a message carrying `value`, answered in reply). Both
carry `{"action": id, "value": …}` (`handlers.teams.render`), and each id goes to one flow of the core:
a post's Share buttons (`bot.flows.shares`: an API post when the member connected the network, else their
personal share link), Not for me, Connect / Disconnect, Undo and "post it" (`bot.flows.connections`), the
queue form's submission (`bot.flows.queue`).

An invoke is answered with the documented types: an answer with buttons or links as a card
(`application/vnd.microsoft.card.adaptive`, which Teams shows the person who clicked, alone, in place of
the card), a plain answer as a message (`application/vnd.microsoft.activity.message`), a click Relais
does not know as an error (`application/vnd.microsoft.error`). In the person's 1:1 chat, an answer with
buttons is a message of its own there instead (the invoke answered with its summary), so that the card
clicked, a nudge of several posts, stays whole. Teams may resend an invoke, to this web process or
another: it gets the answer the first one got, kept in the database (`handlers.teams.redelivery`), and the
core records each share once anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from microsoft_agents.hosting.core import TurnContext

from bot.core import Relais
from bot.flows import acting, connections, erasure, queue, shares, suggestions
from bot.flows.acting import Who
from bot.flows.caller import Caller, FormRefusals
from bot.i18n import language_for
from bot.messages import Actions, Message, Section
from bot.messages.commands import say, unknown_button, unknown_sender
from bot.messages.connections import DISCONNECT_ACTIONS
from bot.messages.erasure import ERASURE_ACTIONS, FORGET_CONFIRM
from bot.messages.model import mentions
from bot.messages.notices import REPOST_ACTION, UNDO_ACTION
from bot.messages.post import EDIT_SHARE_ACTION, NOT_FOR_ME_ACTION, SHARE_ACTIONS
from bot.messages.suggestions import APPROVE, REJECT
from bot.services.hotpath import AckDeadline
from bot.services.inputs import parse_id
from handlers.teams.forms import (
    CAPTION,
    EDIT_VERB,
    NETWORK,
    QUEUE_VERB,
    carried_names,
    edit_form,
    queue_form,
    read_queue_form,
)
from handlers.teams.identity import Sender, sender_of
from handlers.teams.membership import PLATFORM, conversation_of, tenant_of
from handlers.teams.render import Card, render
from handlers.teams.replies import tell_privately
from handlers.teams.surface import TeamsSurface, Typed, channel_names

logger = logging.getLogger(__name__)

CARD: Final = "application/vnd.microsoft.card.adaptive"
MESSAGE: Final = "application/vnd.microsoft.activity.message"
ERROR: Final = "application/vnd.microsoft.error"

InvokeBody = dict[str, Any]


@dataclass(frozen=True)
class Click:
    """A button's id and what it carries (`value`), and the whole data sent back (a form's inputs)."""

    action: str
    value: str
    data: Mapping[str, Any]

    @property
    def carried_id(self) -> int | None:
        """The id a button carries ("12" or "12:linkedin"): a post or a share; None if forged."""
        return parse_id(self.value.split(":", 1)[0])


@dataclass
class Turn:
    """One click being answered: who clicked, and what a flow said early (Teams has no separate ack:
    an early word is the answer when the flow has nothing more to say)."""

    core: Relais
    context: TurnContext
    sender: Sender
    said: list[Message] = field(default_factory=list)

    async def early(self, message: Message) -> None:
        self.said.append(message)

    async def caller(self, *, refresh: bool = True) -> Caller:
        return await acting.caller(
            self.core, self.sender.directory, self.sender.who, channel=self.sender.channel, refresh=refresh
        )


# What answers an invoke: a message, or a card built here (the queue form with its refusals).
Answer = Message | InvokeBody | None
Route = Callable[[Turn, Click], Awaitable[Answer]]


def clicked(activity_value: object, *, invoke: bool) -> Click | None:
    """The click an invoke (`value.action.verb`/`data`) or a submission (`value`) carries; None if it
    is not one of Relais's."""
    if not isinstance(activity_value, dict):
        return None
    data: object = activity_value
    verb: object = activity_value.get("action")
    if invoke:
        action = activity_value.get("action")
        if not isinstance(action, dict):
            return None
        data = action.get("data") if isinstance(action.get("data"), dict) else {}
        verb = action.get("verb") or (data.get("action") if isinstance(data, dict) else None)
    if not isinstance(verb, str) or not isinstance(data, dict):
        return None
    value = data.get("value")
    return Click(verb, value if isinstance(value, str) else "", data)


async def on_invoke(core: Relais, context: TurnContext) -> InvokeBody:
    """An `adaptiveCard/action` invoke: the flow's answer as the invoke's response body. A click Relais
    does not know, or from someone it does not answer, gets the error type with the core's words for it,
    in the language of the person's Teams."""
    click = clicked(context.activity.value, invoke=True)
    if click is not None and click.action in ERASURE_ACTIONS:
        # A card in answer replaces the question's card in place: its buttons go once clicked.
        _, answered = render(await _erasure_click(core, context, click))
        return {"statusCode": 200, "type": CARD, "value": answered}
    route = ROUTES.get(click.action) if click is not None else None
    if click is None or route is None:
        return refusal_body(unknown_button(_client_language(context)))
    sender = await sender_of(core, context.activity)
    if sender is None:
        return refusal_body(unknown_sender(_client_language(context)))
    turn = Turn(core, context, sender)
    answer = await _run(turn, route, click)
    if isinstance(answer, dict):
        return answer
    if answer is None:
        return {"statusCode": 200, "type": MESSAGE, "value": ""}
    names = await _names(core, context, answer, click)
    if _interactive(answer) and _personal(context):
        # In their own chat, the answer is a message of its own: the card clicked (a nudge of several
        # posts) stays as it was.
        summary, card = render(answer, names=names)
        await tell_privately(context, card, summary=summary)
        return {"statusCode": 200, "type": MESSAGE, "value": summary}
    return invoke_body(answer, names=names)


async def _names(core: Relais, context: TurnContext, answer: Message, click: Click) -> dict[str, str]:
    """How to name the channels an answer mentions: as the queue form named them, else as stored."""
    known = carried_names(click.data)
    return await channel_names(core, context.activity, mentions(answer, "channel"), known)


def _personal(context: TurnContext) -> bool:
    conversation = context.activity.conversation
    return conversation is not None and conversation.conversation_type == "personal"


async def on_submit(core: Relais, context: TurnContext) -> None:
    """An `Action.Submit` (a client without Universal Actions): the same flows, answered in reply; a
    submission Relais does not know is told so. Someone who is not a person of the tenant is not
    answered, as a command of theirs is not (`handlers.teams.commands`)."""
    click = clicked(context.activity.value, invoke=False)
    if click is not None and click.action in ERASURE_ACTIONS:
        said, shown = render(await _erasure_click(core, context, click))
        await tell_privately(context, shown, summary=said)
        return
    route = ROUTES.get(click.action) if click is not None else None
    if click is None or route is None:
        if _from_a_person(context):
            summary, told = render(unknown_button(_client_language(context)))
            await tell_privately(context, told, summary=summary)
        return
    sender = await sender_of(core, context.activity)
    if sender is None:
        logger.info("Teams submission from someone outside the tenant's directory: not answered")
        return
    answer = await _run(Turn(core, context, sender), route, click)
    if isinstance(answer, dict):
        card = answer.get("value") if answer.get("type") == CARD else None
        if isinstance(card, dict):
            await tell_privately(context, card)
    elif answer is not None:
        summary, card = render(answer, names=await _names(core, context, answer, click))
        await tell_privately(context, card, summary=summary)


async def _erasure_click(core: Relais, context: TurnContext, click: Click) -> Message:
    """The Erase my data and Cancel buttons (`bot.flows.erasure`): the member is whoever the activity
    says clicked, named but not recorded first (`sender_of` would record them: a second click after the
    erasure would bring them back as a new member instead of changing nothing)."""
    account = context.activity.from_property
    tenant = tenant_of(context.activity)
    if tenant is None or account is None or not account.aad_object_id:
        return unknown_sender(_client_language(context))
    who = Who(PLATFORM, tenant, account.aad_object_id)
    value = click.value or _client_language(context)
    try:
        if click.action == FORGET_CONFIRM:
            return await erasure.confirm(core, who, value)
        return erasure.cancel(core, who, value)
    except Exception:
        logger.exception("Teams click %s failed", click.action)
        return say(erasure.language_carried(core, who, value), "something_went_wrong")


async def _run(turn: Turn, route: Route, click: Click) -> Answer:
    try:
        answer = await route(turn, click)
    except Exception:
        logger.exception("Teams click %s failed", click.action)
        answer = say(acting.cached_language(turn.core, turn.sender.who), "something_went_wrong")
    if answer is None and turn.said:
        return turn.said[-1]
    return answer


def invoke_body(message: Message, *, names: Mapping[str, str] | None = None) -> InvokeBody:
    """A card when the answer has buttons or links to press, else a plain message."""
    if _interactive(message):
        _, card = render(message, names=names)
        return {"statusCode": 200, "type": CARD, "value": card}
    summary, _ = render(message, names=names)
    return {"statusCode": 200, "type": MESSAGE, "value": summary}


def error_body(reason: str) -> InvokeBody:
    return {"statusCode": 400, "type": ERROR, "value": {"code": "BadRequest", "message": reason}}


def refusal_body(message: Message) -> InvokeBody:
    """The documented error type, its message the core's words (plain text) for why nothing was done."""
    summary, _ = render(message)
    return error_body(summary)


def _from_a_person(context: TurnContext) -> bool:
    """Whether the activity comes from a person of a tenant (an Entra object id), as `sender_of` checks,
    without recording them."""
    account = context.activity.from_property
    return tenant_of(context.activity) is not None and account is not None and bool(account.aad_object_id)


def _client_language(context: TurnContext) -> str:
    """The language of the person's Teams (the activity's locale), for an answer given before Relais
    knows who they are."""
    return language_for(locale=context.activity.locale)


def _interactive(message: Message) -> bool:
    return any(
        isinstance(part, Actions) or (isinstance(part, Section) and part.action is not None)
        for part in message.parts
    )


# -- the routes ----------------------------------------------------------------------------------------


async def _share(turn: Turn, click: Click) -> Answer:
    network, post_id = shares.NETWORK_OF_ACTION[click.action], click.carried_id
    core, who = turn.core, turn.sender.who
    # The channel of the card clicked (None in a 1:1 chat: a reminder) goes with the share.
    channel = turn.sender.channel
    started = await shares.start_share(core, who, post_id, network, turn.early, channel=channel)
    # A link button tells Teams nothing: the member's Relais share link counts the share.
    return await shares.share_answer(
        core, turn.sender.directory, who, post_id, network, started, counted_by_link=True, channel=channel
    )


async def _not_for_me(turn: Turn, click: Click) -> Answer:
    return await shares.not_for_me(
        turn.core, turn.sender.directory, turn.sender.who, click.carried_id, turn.early
    )


async def _connection(turn: Turn, click: Click) -> Answer:
    caller = await turn.caller()
    network = connections.NETWORK_OF_ACTION[click.action]
    if click.action in DISCONNECT_ACTIONS.values():
        return await connections.disconnect(turn.core, caller.member, network, caller.lang)
    return await connections.connect(turn.core, caller.member, network, caller.lang)


async def _undo(turn: Turn, click: Click) -> Answer:
    caller = await turn.caller(refresh=False)
    return await connections.undo(turn.core, caller.member, click.carried_id, caller.lang)


async def _repost(turn: Turn, click: Click) -> Answer:
    started = await connections.start_repost(
        turn.core, turn.sender.directory, turn.sender.who, click.carried_id, turn.early
    )
    return await connections.repost_answer(turn.core, started)


async def _queue_submitted(turn: Turn, click: Click) -> Answer:
    """The queue form: refused fields go back under the fields (the form sent again in place); else the
    post is queued and the admin told where and when it goes."""
    caller = await turn.caller()
    checked = queue.check(turn.core, caller, read_queue_form(click.data, caller.timezone))
    if isinstance(checked, queue.Checked):
        return await queue.submit(turn.core, caller, checked)
    picked = [part for part in str(click.data.get(queue.CHANNELS) or "").split(",") if part]
    here = [conversation_of(turn.context.activity)] if turn.sender.channel else []
    offered = list(dict.fromkeys((*picked, *here)))
    suggestion = click.data.get("suggestion_id")
    names = carried_names(click.data)
    card = queue_form(
        caller.lang,
        channels=[(channel, names.get(channel, channel)) for channel in offered],
        chosen=picked,
        suggestion_id=parse_id(suggestion) if isinstance(suggestion, str) else None,
        values=click.data,
        refusals=checked,
    )
    return {"statusCode": 200, "type": CARD, "value": card}


async def _edit_share(turn: Turn, click: Click) -> Answer:
    """Edit & share: the form, in place of the card for the member who clicked."""
    caller = await turn.caller()
    form = await shares.edit_form(turn.core, caller, click.carried_id)
    if isinstance(form, Message):
        return form
    card = edit_form(
        caller.lang, post_id=form.post_id, title=form.title, caption=form.caption, networks=form.networks
    )
    return {"statusCode": 200, "type": CARD, "value": card}


async def _edit_submitted(turn: Turn, click: Click) -> Answer:
    """Edit & share submitted: refused fields go back under the fields; else the share is started (an
    API post with the member's words, or their personal link with them)."""
    caller = await turn.caller()
    raw_post = click.data.get("post_id")
    post_id = parse_id(raw_post) if isinstance(raw_post, str) else None
    caption, network = click.data.get(CAPTION), click.data.get(NETWORK)
    checked = shares.check_edit(
        caller.lang,
        caption=caption if isinstance(caption, str) else "",
        network=network if isinstance(network, str) and network else None,
        post_id=post_id,
    )
    if not isinstance(checked, shares.EditChoice):
        return await _edit_again(turn, caller, post_id, click, checked)
    started = await shares.submit_edit(turn.core, caller, checked, AckDeadline(), turn.early)
    if started is None:
        return None  # told through `early`
    if not isinstance(started, shares.EditStarted):
        return await _edit_again(turn, caller, post_id, click, started)
    return await shares.edited_share_answer(
        turn.core, caller, checked.post_id, checked.network, checked.caption, started, counted_by_link=True
    )


async def _edit_again(
    turn: Turn, caller: Caller, post_id: int | None, click: Click, refusals: FormRefusals
) -> Answer:
    """The Edit & share form sent back as submitted, each refusal under its field."""
    form = await shares.edit_form(turn.core, caller, post_id)
    if isinstance(form, Message):
        return form
    card = edit_form(
        caller.lang,
        post_id=form.post_id,
        title=form.title,
        caption=form.caption,
        networks=form.networks,
        values=click.data,
        refusals=refusals,
    )
    return {"statusCode": 200, "type": CARD, "value": card}


async def _approve(turn: Turn, click: Click) -> Answer:
    """Approve on a suggestion's review: the queue form, prefilled, in place of the review."""
    forms: list[Card] = []
    surface = TeamsSurface(turn.core, turn.context, Typed(""), forms=forms)
    answer = await suggestions.approve(
        turn.core, surface, turn.sender.directory, turn.sender.who, click.carried_id
    )
    if forms:
        return {"statusCode": 200, "type": CARD, "value": forms[-1]}
    return answer


async def _reject(turn: Turn, click: Click) -> Answer:
    return await suggestions.reject(turn.core, turn.sender.directory, turn.sender.who, click.carried_id)


ROUTES: Final[dict[str, Route]] = {
    **dict.fromkeys(SHARE_ACTIONS.values(), _share),
    NOT_FOR_ME_ACTION: _not_for_me,
    **dict.fromkeys(connections.NETWORK_OF_ACTION, _connection),
    UNDO_ACTION: _undo,
    REPOST_ACTION: _repost,
    QUEUE_VERB: _queue_submitted,
    EDIT_SHARE_ACTION: _edit_share,
    EDIT_VERB: _edit_submitted,
    APPROVE: _approve,
    REJECT: _reject,
}
