"""A third chat platform, for tests only: the proof that a platform adapter needs nothing but the core.

A person types text or clicks a button (an action id and its value, as the core's neutral messages
carry them); the adapter names who acted (`Who` on the platform "text"), calls one flow of `bot/`, and
shows the neutral message the flow answers. What the core sends on its own (posts in channels, reviews,
nudges, ranks) goes through the outbox to this platform's notifier, which records it. Like Slack's
adapter, it makes no decision, runs no SQL and writes no text of its own; unlike it, it imports no chat
SDK: it is what Teams' adapter has to be, in a few dozen lines.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlencode

from aiohttp import web

from bot.clock import Clock
from bot.config import Settings
from bot.core import Relais
from bot.db import Sessions
from bot.flows import acting, connections, queue, shares, suggestions
from bot.flows.acting import Who
from bot.flows.commands import run_command
from bot.messages import Action, Message, plain_text
from bot.messages.connections import DISCONNECT_ACTIONS
from bot.messages.notices import UNDO_ACTION
from bot.messages.post import NOT_FOR_ME_ACTION, OPEN_SHARE_ACTIONS, SHARE_ACTIONS
from bot.messages.suggestions import APPROVE, REJECT
from bot.notifier import Notifier
from bot.services import delivery
from bot.services.inputs import parse_id
from bot.signin import Identity, SignInFailed, SignInProvider, code_challenge
from scheduler import jobs
from tests.bot.flows.conftest import Directory, TextSurface
from tests.fakes.notifier import RecordingNotifier, Shown

NAME: Final = "text"  # the platform's name: its workspaces' `Workspace.platform`
CORE_KEY: Final = web.AppKey("text_core", Relais)


@dataclass
class TextSignIn:
    """The text platform vouching for a person (`bot.signin.SignInProvider`): its consent page is a route
    of its own (`PATH`), where the browser names its person with a `text_user` cookie (`signed_in_as`),
    as a browser signed in to Slack or Microsoft does; it redirects back with a single-use code bound to
    the PKCE challenge and the nonce, which `identify` checks as a real provider would."""

    PATH = "/text/sign-in"
    name: str = NAME
    label: str = "Text"
    base_url: str = ""
    codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # code: user, nonce, challenge

    def authorization_url(self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str) -> str:
        query = {
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "redirect_uri": redirect_uri,
        }
        return f"{self.base_url}{self.PATH}?{urlencode(query)}"

    async def handle_consent(self, request: web.Request) -> web.Response:
        user, query = request.cookies.get("text_user"), request.query
        if not user:
            return web.Response(status=401, text="nobody is signed in to the text platform here")
        code = secrets.token_urlsafe(16)
        self.codes[code] = (user, query["nonce"], query["code_challenge"])
        back = urlencode({"code": code, "state": query["state"]})
        return web.Response(status=302, headers={"Location": f"{query['redirect_uri']}?{back}"})

    async def identify(self, *, code: str, redirect_uri: str, nonce: str, code_verifier: str) -> Identity:
        user, sent_nonce, challenge = self.codes.pop(code, ("", "", ""))
        if not user or sent_nonce != nonce or code_challenge(code_verifier) != challenge:
            raise SignInFailed("provider_error", "not this sign-in's code")
        return Identity(platform=NAME, workspace=TextChat.workspace, member=user)


def signed_in_as(user: str) -> str:
    """The `Cookie` of a browser where `user` is signed in to the text platform."""
    return f"text_user={user}"


@dataclass
class TextPlatform:
    """The platform as the web server and the clock see it (`bot.platforms.Platform`): no route of its
    own (its people type into `TextChat`), the core kept from `install`, one recording notifier."""

    recorder: RecordingNotifier = field(default_factory=RecordingNotifier)
    signing_in: TextSignIn = field(default_factory=lambda: TextSignIn())
    name: str = NAME
    command: str = ""  # its people type a command's words alone

    def configured(self, settings: Settings) -> bool:
        return True

    def require(self, settings: Settings) -> None:
        return None

    def install(self, app: web.Application, core: Relais) -> None:
        app[CORE_KEY] = core
        app.router.add_get(TextSignIn.PATH, self.signing_in.handle_consent)

    def sign_in(self, settings: Settings) -> SignInProvider:
        """Its people sign in to Relais's pages too (`bot.signin.SignsIn`), with `TextSignIn`."""
        self.signing_in.base_url = settings.base_url
        return self.signing_in

    async def drain(self, app: web.Application, workspace_id: int) -> None:
        await deliver(app[CORE_KEY], self.recorder, workspaces=[workspace_id])

    def notifier(self, settings: Settings, sessions: Sessions, clock: Clock) -> Notifier:
        return self.recorder


def context(core: Relais, notifier: Notifier) -> jobs.Context:
    """What the clock gives its jobs, with this platform's notifier (`relais clock` builds the same from
    the configured platforms)."""
    return jobs.Context(
        core.sessions, {NAME: notifier}, core.clock.now, core.poster, admins=core.settings.relais_admins
    )


async def deliver(core: Relais, notifier: Notifier, workspaces: list[int] | None = None) -> int:
    """Send what a request enqueued (in `workspaces`, if given), as the clock's next pass would, through
    this platform's notifier."""
    return await delivery.deliver(
        core.sessions,
        notifiers={NAME: notifier},
        now=core.clock.now,
        admins=core.settings.relais_admins,
        workspaces=workspaces,
    )


@dataclass
class TextChat:
    """The people's side: `type` a command, `click` a button; each answers what the person sees (None:
    nothing, e.g. a form opened instead). `said_early` keeps what a flow said before it was done."""

    core: Relais
    directory: Directory
    notifier: RecordingNotifier
    workspace: str = "ACME"
    surface: TextSurface = field(default_factory=TextSurface)
    said_early: list[Shown] = field(default_factory=list)

    def who(self, user: str) -> Who:
        return Who(NAME, self.workspace, user)

    async def type(self, user: str, typed: str, *, channel: str | None = None) -> Shown | None:
        """`/relais <typed>` (or whatever this platform's people type to Relais), then what it queued sent."""
        reply = await run_command(
            self.core, self.surface, self.directory, self.who(user), typed, channel=channel
        )
        await deliver(self.core, self.notifier)
        return Shown(reply) if reply is not None else None

    async def click(self, user: str, button: Action) -> Shown | None:
        """A click on a button of a message the person was shown, routed by its id to one flow."""
        route = self._routes().get(button.id)
        assert route is not None, f"the text platform has no route for {button.id}"
        answer = await route(self.who(user), button)
        await deliver(self.core, self.notifier)
        return Shown(answer) if answer is not None else None

    async def submit(self, user: str, form: queue.QueueForm) -> Shown | dict[str, str]:
        """The queue form submitted: the refusals under each field (plain text), or, once queued, what the
        admin is told (and what it queued sent)."""
        caller = await acting.caller(self.core, self.directory, self.who(user))
        checked = queue.check(self.core, caller, form)
        if not isinstance(checked, queue.Checked):
            return {name: plain_text(refusal) for name, refusal in checked.items()}
        answer = await queue.submit(self.core, caller, checked)
        await deliver(self.core, self.notifier)
        return Shown(answer)

    def _routes(self) -> dict[str, Callable[[Who, Action], Awaitable[Message | None]]]:
        routes: dict[str, Callable[[Who, Action], Awaitable[Message | None]]] = {
            NOT_FOR_ME_ACTION: self._not_for_me,
            APPROVE: self._approve,
            REJECT: self._reject,
            UNDO_ACTION: self._undo,
        }
        routes.update(dict.fromkeys(SHARE_ACTIONS.values(), self._share))
        routes.update(dict.fromkeys(OPEN_SHARE_ACTIONS.values(), self._open_share))
        routes.update(dict.fromkeys(connections.NETWORK_OF_ACTION, self._connection))
        return routes

    async def _early(self, message: Message) -> None:
        self.said_early.append(Shown(message))

    async def _share(self, who: Who, button: Action) -> Message | None:
        network, post_id = shares.NETWORK_OF_ACTION[button.id], carried_id(button)
        started = await shares.start_share(self.core, who, post_id, network, self._early)
        return await shares.share_answer(self.core, self.directory, who, post_id, network, started)

    async def _open_share(self, who: Who, button: Action) -> Message | None:
        network = shares.NETWORK_OF_ACTION[button.id]
        opened = await shares.open_share(self.core, who, carried_id(button), network, self._early)
        return await shares.opened_answer(self.core, self.directory, who, opened)

    async def _not_for_me(self, who: Who, button: Action) -> Message | None:
        return await shares.not_for_me(self.core, self.directory, who, carried_id(button), self._early)

    async def _approve(self, who: Who, button: Action) -> Message | None:
        suggestion_id = carried_id(button)
        if suggestion_id is None:
            return None
        return await suggestions.approve(self.core, self.surface, self.directory, who, suggestion_id)

    async def _reject(self, who: Who, button: Action) -> Message | None:
        suggestion_id = carried_id(button)
        if suggestion_id is None:
            return None
        return await suggestions.reject(self.core, self.directory, who, suggestion_id)

    async def _connection(self, who: Who, button: Action) -> Message | None:
        caller = await acting.caller(self.core, self.directory, who)
        network = connections.NETWORK_OF_ACTION[button.id]
        if button.id in DISCONNECT_ACTIONS.values():
            return await connections.disconnect(self.core, caller.member, network, caller.lang)
        return await connections.connect(self.core, caller.member, network, caller.lang)

    async def _undo(self, who: Who, button: Action) -> Message | None:
        caller = await acting.caller(self.core, self.directory, who, refresh=False)
        return await connections.undo(self.core, caller.member, carried_id(button), caller.lang)


def carried_id(button: Action) -> int | None:
    """The id a button carries ("12" or "12:linkedin"): a post, a suggestion, a share; None if forged."""
    return parse_id(str(button.value or "").split(":", 1)[0])
