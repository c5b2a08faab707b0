"""Microsoft Teams as the core sees it (`bot.platforms.Platform`), found through the `relais.platforms`
entry point: the Bot Framework's request URL with its token check, and the notifier the clock sends
through."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiohttp import web
from microsoft_agents.hosting.core import AccessTokenProviderBase

from bot.clock import Clock
from bot.config import Settings
from bot.core import Relais
from bot.db import Sessions
from bot.flows import membership
from bot.notifier import Notifier
from bot.services import delivery
from bot.signin import SignInProvider
from handlers.teams.agent import TeamsAgent
from handlers.teams.auth import KEYS_COOLDOWN_SECONDS, BotFrameworkTokens
from handlers.teams.hosting import build_adapter, token_provider
from handlers.teams.ingress import TeamsIngress
from handlers.teams.notifier import TeamsNotifier
from handlers.teams.signin import sign_in
from handlers.teams.text import COMMAND

logger = logging.getLogger(__name__)

TEAMS_INGRESS_KEY = web.AppKey("teams_ingress", TeamsIngress)


class TeamsPlatform:
    """`tokens` replaces the bot's own credentials (MSAL, from the settings): tests give a provider of
    fixed tokens, Microsoft Entra ID being out of reach. `keys_cooldown` (the least time between two
    fetches of the Bot Framework's keys for an unknown key id) and `monotonic` (what times the key cache
    and the pause after a failed fetch) are the token check's (`handlers.teams.auth`)."""

    name = "teams"
    command = COMMAND

    def __init__(
        self,
        *,
        tokens: AccessTokenProviderBase | None = None,
        keys_cooldown: float = KEYS_COOLDOWN_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._keys_cooldown = keys_cooldown
        self._monotonic = monotonic

    def configured(self, settings: Settings) -> bool:
        return settings.teams_configured

    def require(self, settings: Settings) -> None:
        settings.require_teams()

    def sign_in(self, settings: Settings) -> SignInProvider | None:
        """Sign in with Microsoft (`bot.signin.SignsIn`) through the bot's app registration, when it has
        a client secret (`handlers.teams.signin`); its keys are timed as the token check's."""
        return sign_in(settings, monotonic=self._monotonic, keys_cooldown=self._keys_cooldown)

    def install(self, app: web.Application, core: Relais) -> None:
        """Raises `ConfigError` when the Teams settings are incomplete."""
        settings = core.settings
        if not settings.teams_configured:
            app.router.add_post("/api/messages", handle_teams_not_configured)
            return
        settings.require_teams()
        if settings.microsoft_app_id is None:
            tokens = None
            logger.warning(
                "RELAIS_TEAMS_ANONYMOUS is on: /api/messages takes activities without authentication, "
                "and answers only those whose serviceUrl is on this machine (local clients such as the "
                "Agents Playground); never use it for a deployment that Teams reaches"
            )
        else:
            tokens = BotFrameworkTokens(
                settings.microsoft_app_id,
                metadata_url=settings.teams_openid_metadata_url,
                # A single-tenant bot's tokens may come from its tenant's Microsoft Entra ID.
                entra_tenant=None
                if settings.microsoft_app_type == "MultiTenant"
                else settings.microsoft_app_tenant_id,
                login_url=settings.microsoft_login_url,
                keys_cooldown=self._keys_cooldown,
                monotonic=self._monotonic,
            )
        adapter = build_adapter(self._tokens or token_provider(settings))
        sender = TeamsSender(core, self.notifier(settings, core.sessions, core.clock))
        app[TEAMS_SENDER_KEY] = sender
        single = settings.microsoft_app_type != "MultiTenant" and settings.microsoft_app_id is not None
        app[TEAMS_INGRESS_KEY] = TeamsIngress(
            adapter,
            TeamsAgent(core, after=sender.soon),
            tokens,
            tenant=settings.microsoft_app_tenant_id if single else None,
        )
        app.on_shutdown.append(sender.settle_on_shutdown)
        app.router.add_post("/api/messages", handle_teams_activity)

    async def drain(self, app: web.Application, workspace_id: int) -> None:
        """Send now what waits in workspace `workspace_id` if it is a Teams tenant, through the sender
        (whose `settle` then waits for it too)."""
        if TEAMS_SENDER_KEY in app:
            sender = app[TEAMS_SENDER_KEY]
            sender.soon(workspace_id=workspace_id)
            await sender.settle()

    def notifier(self, settings: Settings, sessions: Sessions, clock: Clock) -> Notifier:
        return TeamsNotifier.on_core(
            sessions,
            self._tokens or token_provider(settings),
            loopback_only=settings.microsoft_app_id is None,
            clock=clock,
        )


class TeamsSender:
    """Sends what a request just enqueued for a Teams workspace, that workspace's messages only (the
    clock would, a little later, and drains every workspace)."""

    def __init__(self, core: Relais, notifier: Notifier) -> None:
        self._core = core
        self._notifier = notifier
        self._pending: set[asyncio.Task[None]] = set()
        self._asked = _Asked()

    def soon(self, tenant: str | None = None, *, workspace_id: int | None = None) -> None:
        """`drain` the workspace of `tenant` (Teams' id) or `workspace_id` (Relais's), every Teams
        workspace if neither, in the background, once the turn that enqueued is answered (an invoke's
        answer must not wait for the channel's post). One pass at a time in this process: a call while a
        pass runs asks for one more after it, for the workspaces asked meanwhile (what this turn enqueued
        may have come after that pass looked), so a burst of clicks costs a pass or two, not one each
        (every invoke calls this, and a pass is several transactions even when nothing waits: 4.5 ms of
        CPU per click, a third of the click's, in tests/benchmarks/bench_teams.py)."""
        self._asked.add(tenant, workspace_id)
        if any(not task.done() for task in self._pending):
            return
        task = asyncio.create_task(self._drain_while_asked())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _drain_while_asked(self) -> None:
        while self._asked:
            asked, self._asked = self._asked, _Asked()
            await self.drain(asked)

    async def settle(self) -> None:
        """Wait for the sending started by `soon` (the server stopping; a test reading what was sent)."""
        while self._pending:
            await asyncio.gather(*self._pending)

    async def settle_on_shutdown(self, app: web.Application) -> None:
        await self.settle()

    async def drain(self, asked: _Asked | None = None) -> None:
        """A pass over the workspaces `asked` for (every Teams workspace: None)."""
        core = self._core
        try:
            workspaces = None if asked is None else await asked.workspace_ids(core)
            if workspaces == []:
                return  # tenants Relais never met: nothing of theirs waits
            await delivery.deliver(
                core.sessions,
                notifiers={TeamsPlatform.name: self._notifier},
                now=core.clock.now,
                admins=core.settings.relais_admins,
                workspaces=workspaces,
            )
        except Exception:
            logger.exception("draining the outbox for Teams failed; the clock will retry")


class _Asked:
    """The workspaces a next pass is asked for: by tenant, by Relais's id, or all of them."""

    def __init__(self) -> None:
        self.tenants: set[str] = set()
        self.ids: set[int] = set()
        self.every = False

    def add(self, tenant: str | None, workspace_id: int | None) -> None:
        if tenant is not None:
            self.tenants.add(tenant)
        if workspace_id is not None:
            self.ids.add(workspace_id)
        if tenant is None and workspace_id is None:
            self.every = True

    def __bool__(self) -> bool:
        return self.every or bool(self.tenants or self.ids)

    async def workspace_ids(self, core: Relais) -> list[int] | None:
        """Relais's ids of the workspaces asked for (None: every one), from this process's memory once it
        met the tenant (a click's pass asks the database nothing more)."""
        if self.every:
            return None
        found = set(self.ids)
        for tenant in self.tenants:
            known = core.cache.workspace(TeamsPlatform.name, tenant)
            if known is None:
                known = await membership.workspace_id(
                    core.sessions, platform=TeamsPlatform.name, workspace=tenant
                )
                if known is not None:
                    core.cache.remember_workspace(TeamsPlatform.name, tenant, known)
            if known is not None:
                found.add(known)
        return sorted(found)


async def handle_teams_activity(request: web.Request) -> web.StreamResponse:
    """Every Bot Framework activity comes to this one URL (`handlers.teams.ingress`)."""
    return await request.app[TEAMS_INGRESS_KEY].handle(request)


async def handle_teams_not_configured(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": "Teams is not configured on this server (set MICROSOFT_APP_ID)"}, status=404
    )


TEAMS_SENDER_KEY = web.AppKey("teams_sender", TeamsSender)
