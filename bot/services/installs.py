"""Installations of the Slack app, one per workspace or Enterprise Grid organisation: their rows (bot
tokens encrypted with the install's Fernet key), the workspace rows they create, and what an
uninstallation stops. The adapter (`handlers.slack.installations`) turns these into slack_sdk's
installation store; nothing here speaks to Slack."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from weakref import WeakKeyDictionary

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Sessions, insert_ignoring_conflicts
from bot.services import members
from models import OutboxMessage, OutboxState, Platform, SlackInstallation, SlackOAuthState, Workspace

logger = logging.getLogger(__name__)

# How long the install page's `state` is good for: Slack's authorize page, then back.
STATE_TTL: Final = timedelta(minutes=10)
# How long a process reuses an installation it read (each request and each outbox message needs one):
# saved, renewed or uninstalled in this process, it is read again at once; in another process (the clock,
# another web process), within this.
CACHE_TTL: Final = timedelta(seconds=45)
UNINSTALLED: Final = "app uninstalled"  # the reason written on the outbox rows an uninstall stops


@dataclass(frozen=True)
class Install:
    """One installation as the adapter hands it over or gets it back, tokens in clear (in memory only)."""

    enterprise_id: str | None
    enterprise_name: str | None
    team_id: str | None
    team_name: str | None
    is_enterprise_install: bool
    app_id: str | None
    bot_id: str
    bot_user_id: str
    bot_scopes: str
    bot_token: str = field(repr=False)
    # In clear when handed over to be saved; None in what is read back (see `sealed_refresh`).
    bot_refresh_token: str | None = field(repr=False)
    bot_token_expires_at: datetime | None
    installer_user_id: str | None
    installed_at: datetime | None  # None: installed now (a new installation, on the injected clock)
    # As read back, the refresh token stays encrypted until a renewal needs it (`Installs.refresh_token`):
    # only a token about to expire is renewed.
    sealed_refresh: str | None = field(default=None, repr=False)
    updated_at: datetime | None = None  # when it was last stored (installed, renewed)

    @property
    def rotating(self) -> bool:
        """Its bot token expires and is renewed with a refresh token (the app's token rotation)."""
        return self.bot_refresh_token is not None or self.sealed_refresh is not None


def key_of(enterprise_id: str | None, team_id: str | None) -> str:
    """The unique key of an installation: an org-wide one has no team."""
    return f"{enterprise_id or '-'}:{team_id or '-'}"


async def _save(session: AsyncSession, install: Install, *, cipher: MultiFernet, now: datetime) -> None:
    """Record an installation (a reinstall, or a rotated token, replaces the row), and make its workspace
    served again: the workspace row of a team install (created if new, its name and organisation
    recorded), or every known workspace of an organisation for an org-wide one. The caller commits."""
    key = key_of(install.enterprise_id, None if install.is_enterprise_install else install.team_id)
    values = {
        "key": key,
        "enterprise_id": install.enterprise_id,
        "enterprise_name": install.enterprise_name,
        "team_id": None if install.is_enterprise_install else install.team_id,
        "team_name": install.team_name,
        "is_enterprise_install": install.is_enterprise_install,
        "app_id": install.app_id,
        "bot_id": install.bot_id,
        "bot_user_id": install.bot_user_id,
        "bot_scopes": install.bot_scopes,
        "bot_token_encrypted": cipher.encrypt(install.bot_token.encode()).decode(),
        "bot_refresh_token_encrypted": (
            cipher.encrypt(install.bot_refresh_token.encode()).decode() if install.bot_refresh_token else None
        ),
        "bot_token_expires_at": install.bot_token_expires_at,
        "installer_user_id": install.installer_user_id,
        "installed_at": install.installed_at or now,
        "updated_at": now,
    }
    await session.execute(insert_ignoring_conflicts(session, SlackInstallation.__table__, [values]))
    await session.execute(update(SlackInstallation).where(SlackInstallation.key == key).values(values))
    if install.is_enterprise_install:
        if install.enterprise_id is not None:
            await session.execute(
                update(Workspace)
                .where(_slack(), Workspace.enterprise_id == install.enterprise_id)
                .values(uninstalled_at=None, updated_at=now)
            )
        return
    if install.team_id is None:
        return
    workspace = await members.ensure_workspace(
        session, platform=Platform.SLACK.value, external_id=install.team_id, now=now
    )
    # Read again, locked until the commit (PostgreSQL; SQLite has one writer): a batch of a removal under
    # way (`bot.services.workspace_erasure`) holds the row until its own commit, so the installation is
    # never deleted by it, and what it left of the row is what is updated here.
    await session.refresh(workspace, with_for_update={"key_share": True})  # children's inserts go on
    workspace.name = install.team_name or workspace.name
    workspace.enterprise_id = install.enterprise_id
    workspace.uninstalled_at = None
    workspace.updated_at = now


async def _find(
    session: AsyncSession,
    *,
    enterprise_id: str | None,
    team_id: str | None,
    is_enterprise_install: bool,
    cipher: MultiFernet,
) -> Install | None:
    """The installation serving a request from `team_id` (of `enterprise_id`): the org's own for an
    org-wide request, else the team's, else its organisation's org-wide one (Enterprise Grid). None
    when the app is not installed there (or its tokens were revoked)."""
    row: SlackInstallation | None = None
    if not is_enterprise_install and team_id:
        row = await session.scalar(select(SlackInstallation).where(SlackInstallation.team_id == team_id))
    if row is None and enterprise_id:
        if team_id and (
            not await _may_join(session, team_id=team_id, enterprise_id=enterprise_id)
            or await _stopped(session, team_id)
        ):
            return None
        row = await session.scalar(
            select(SlackInstallation).where(
                SlackInstallation.enterprise_id == enterprise_id, SlackInstallation.is_enterprise_install
            )
        )
    return _install(row, cipher) if row is not None else None


async def _stopped(session: AsyncSession, team_id: str) -> bool:
    """The team's workspace was stopped (its organisation's installation lost access to it:
    `team_access_revoked`): the organisation's installation no longer serves it."""
    stopped = await session.scalar(
        select(Workspace.uninstalled_at).where(_slack(), Workspace.external_id == team_id)
    )
    return stopped is not None


async def _may_join(session: AsyncSession, *, team_id: str, enterprise_id: str) -> bool:
    """An organisation's installation serves a team only if the team is not known to belong to another
    organisation (nor to none: a team installed on its own)."""
    known = (
        await session.execute(
            select(Workspace.enterprise_id).where(_slack(), Workspace.external_id == team_id)
        )
    ).first()
    if known is None or known[0] == enterprise_id:
        return True
    if known[0] is not None:
        return False
    own = await session.scalar(select(SlackInstallation.key).where(SlackInstallation.team_id == team_id))
    return own is None


async def _find_for_workspace(
    session: AsyncSession, workspace_id: int, *, cipher: MultiFernet
) -> Install | None:
    """The installation that sends a workspace's messages; None when none serves it any longer."""
    workspace = await session.get(Workspace, workspace_id)
    if (
        workspace is None
        or workspace.platform != Platform.SLACK.value
        or workspace.uninstalled_at is not None
    ):
        return None
    return await _find(
        session,
        enterprise_id=workspace.enterprise_id,
        team_id=workspace.external_id,
        is_enterprise_install=False,
        cipher=cipher,
    )


async def _remember_enterprise(
    session: AsyncSession, *, team_id: str, enterprise_id: str, now: datetime
) -> bool:
    """The organisation of a team first met through an org-wide installation (its workspace row is
    created on first contact, which knows no organisation). A known organisation is never replaced:
    False when the team belongs to another one (the request is refused). The caller commits."""
    if not await _may_join(session, team_id=team_id, enterprise_id=enterprise_id):
        return False
    workspace = await members.ensure_workspace(
        session, platform=Platform.SLACK.value, external_id=team_id, now=now
    )
    if workspace.enterprise_id is None:
        workspace.enterprise_id, workspace.updated_at = enterprise_id, now
    return workspace.enterprise_id == enterprise_id


async def _uninstall(
    session: AsyncSession, *, enterprise_id: str | None, team_id: str | None, org_wide: bool, now: datetime
) -> int:
    """The app was uninstalled, or its bot token revoked: the installation is deleted and the workspaces
    it served are marked uninstalled (their schedules skipped, nothing sent to them), their pending
    messages cancelled. Returns how many workspaces were stopped. The caller commits."""
    if org_wide and enterprise_id:
        await session.execute(
            delete(SlackInstallation).where(
                SlackInstallation.enterprise_id == enterprise_id, SlackInstallation.is_enterprise_install
            )
        )
        # The org's workspaces that have no installation of their own.
        own = select(SlackInstallation.team_id).where(SlackInstallation.team_id.is_not(None))
        served: ColumnElement[bool] = (
            Workspace.enterprise_id == enterprise_id
        ) & Workspace.external_id.not_in(own)
    elif team_id:
        await session.execute(delete(SlackInstallation).where(SlackInstallation.team_id == team_id))
        served = Workspace.external_id == team_id
    else:
        return 0
    return await _stop_workspaces(session, served, now=now)


async def _stop_workspaces(session: AsyncSession, served: ColumnElement[bool], *, now: datetime) -> int:
    """The Slack workspaces `served` selects are marked uninstalled, their pending messages cancelled."""
    ids = list((await session.scalars(select(Workspace.id).where(_slack(), served))).all())
    if not ids:
        return 0
    await session.execute(
        update(Workspace).where(Workspace.id.in_(ids)).values(uninstalled_at=now, updated_at=now)
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.workspace_id.in_(ids), OutboxMessage.state == OutboxState.PENDING)
        .values(state=OutboxState.CANCELLED, last_error=UNINSTALLED, updated_at=now)
    )
    return len(ids)


def _org_teams(enterprise_id: str, team_ids: list[str]) -> ColumnElement[bool]:
    """Those of `team_ids` an organisation's installation serves: of that organisation (or of none
    known yet), without an installation of their own."""
    own = select(SlackInstallation.team_id).where(SlackInstallation.team_id.is_not(None))
    return (
        Workspace.external_id.in_(team_ids)
        & Workspace.external_id.not_in(own)
        & or_(Workspace.enterprise_id == enterprise_id, Workspace.enterprise_id.is_(None))
    )


async def _set_team_access(
    session: AsyncSession, *, enterprise_id: str, team_ids: list[str], granted: bool, now: datetime
) -> int:
    """Enterprise Grid: an org-wide installation lost (`team_access_revoked`) or gained
    (`team_access_granted`) some of the organisation's workspaces: those are stopped as by an
    uninstall, or served again (created, with their organisation, if new). The caller commits."""
    if not granted:
        return await _stop_workspaces(session, _org_teams(enterprise_id, team_ids), now=now)
    for team_id in team_ids:
        if await _may_join(session, team_id=team_id, enterprise_id=enterprise_id):
            workspace = await members.ensure_workspace(
                session, platform=Platform.SLACK.value, external_id=team_id, now=now
            )
            workspace.enterprise_id, workspace.uninstalled_at, workspace.updated_at = enterprise_id, None, now
    return len(team_ids)


async def forget_installer(session: AsyncSession, *, team_id: str, user_id: str) -> None:
    """Erasure: the installation serving the member's workspace (its own, or its organisation's) no longer
    names them as who installed it; another organisation's is not touched. The caller commits."""
    enterprise_id = await session.scalar(
        select(Workspace.enterprise_id).where(_slack(), Workspace.external_id == team_id)
    )
    serving = SlackInstallation.team_id == team_id
    if enterprise_id is not None:
        serving = or_(
            serving,
            (SlackInstallation.enterprise_id == enterprise_id) & SlackInstallation.is_enterprise_install,
        )
    await session.execute(
        update(SlackInstallation)
        .where(serving, SlackInstallation.installer_user_id == user_id)
        .values(installer_user_id=None)
    )


class _Shared:
    """What every `Installs` of one process on the same database shares: the installations it read
    lately (by request key or workspace id, with when they were read), and one lock per installation
    under which its rotating token is renewed (one renewal at a time: a refresh token is used once)."""

    def __init__(self) -> None:
        self.read: dict[object, tuple[datetime, Install]] = {}
        self.renewing: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # (team, organisation) pairs whose workspace row had its organisation recorded (`Installs.serves`),
        # with when: trusted `CACHE_TTL`, as what is read (another process may remove the row meanwhile).
        self.recorded: dict[tuple[str, str], datetime] = {}

    def forget(self) -> None:
        """An installation was saved or removed, or an organisation's access changed: read again."""
        self.read.clear()
        self.recorded.clear()


_shared: WeakKeyDictionary[Sessions, _Shared] = WeakKeyDictionary()


class Installs:
    """The installations, on Relais's own sessions (each call its own short transaction, no network
    call inside): what `handlers.slack.installations` adapts to slack_sdk's stores. `now` is the
    injected clock's; `state_secret` keys the install flow's states (SLACK_STATE_SECRET). What is read is
    kept `CACHE_TTL` (each request and outbox message needs its installation), forgotten at once when
    this process saves or uninstalls one."""

    def __init__(
        self, sessions: Sessions, *, cipher: MultiFernet, state_secret: bytes, now: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._state_secret = state_secret
        self._now = now
        self._shared = _shared.setdefault(sessions, _Shared())

    async def save(self, install: Install) -> None:
        async with self._sessions() as session:
            await _save(session, install, cipher=self._cipher, now=self._now())
            await session.commit()
        self._shared.forget()

    async def find(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool,
        fresh: bool = False,
    ) -> Install | None:
        """The installation serving a request (`_find`); `fresh` reads the database whatever was kept."""
        key = (enterprise_id, team_id, is_enterprise_install)
        if not fresh and (kept := self._kept(key)) is not None:
            return kept
        async with self._sessions() as session:
            found = await _find(
                session,
                enterprise_id=enterprise_id,
                team_id=team_id,
                is_enterprise_install=is_enterprise_install,
                cipher=self._cipher,
            )
        return self._keep(key, found)

    async def for_workspace(self, workspace_id: int) -> Install | None:
        key = ("workspace", workspace_id)
        if (kept := self._kept(key)) is not None:
            return kept
        async with self._sessions() as session:
            found = await _find_for_workspace(session, workspace_id, cipher=self._cipher)
        return self._keep(key, found)

    def refresh_token(self, install: Install) -> str | None:
        """The refresh token in clear, decrypted only now that a renewal needs it."""
        if install.bot_refresh_token is not None or install.sealed_refresh is None:
            return install.bot_refresh_token
        try:
            return self._cipher.decrypt(install.sealed_refresh.encode()).decode()
        except InvalidToken:
            logger.error("a Slack refresh token cannot be decrypted: was ENCRYPTION_KEY changed?")
            return None

    def renewing(self, install: Install) -> asyncio.Lock:
        """The lock under which this process renews the installation's token."""
        return self._shared.renewing[_key(install)]

    async def serves(self, *, team_id: str, enterprise_id: str) -> bool:
        """An organisation's installation serves this team (what a request through it acts on): not a team
        of another organisation, nor one installed on its own, nor one the installation lost access to
        (`_find`, as Bolt's authorize reads it for a request naming the team). The team's workspace row
        then has its organisation recorded (created if new), whatever first brought it (a command, a
        click, an event): a Grid-wide erasure and the outbox find the workspace by its organisation."""
        if await self.find(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=True) is None:
            return False
        recorded = self._shared.recorded.get((team_id, enterprise_id))
        if recorded is not None and timedelta(0) <= self._now() - recorded < CACHE_TTL:
            return True
        if not await self.remember_enterprise(team_id=team_id, enterprise_id=enterprise_id):
            return False
        self._shared.recorded[(team_id, enterprise_id)] = self._now()
        return True

    async def remember_enterprise(self, *, team_id: str, enterprise_id: str) -> bool:
        """False when the team belongs to another organisation (see `_remember_enterprise`)."""
        async with self._sessions() as session:
            known = await _remember_enterprise(
                session, team_id=team_id, enterprise_id=enterprise_id, now=self._now()
            )
            await session.commit()
        return known

    async def uninstall(self, *, enterprise_id: str | None, team_id: str | None, org_wide: bool) -> int:
        async with self._sessions() as session:
            stopped = await _uninstall(
                session, enterprise_id=enterprise_id, team_id=team_id, org_wide=org_wide, now=self._now()
            )
            await session.commit()
        self._shared.forget()
        return stopped

    def _kept(self, key: object) -> Install | None:
        kept = self._shared.read.get(key)
        if kept is None:
            return None
        age = self._now() - kept[0]
        return kept[1] if timedelta(0) <= age < CACHE_TTL else None

    def _keep(self, key: object, found: Install | None) -> Install | None:
        """Only what was found is kept: an installation made by another process is seen at once."""
        if found is not None:
            self._shared.read[key] = (self._now(), found)
        else:
            self._shared.read.pop(key, None)
        return found

    async def set_team_access(self, *, enterprise_id: str, team_ids: list[str], granted: bool) -> int:
        async with self._sessions() as session:
            changed = await _set_team_access(
                session, enterprise_id=enterprise_id, team_ids=team_ids, granted=granted, now=self._now()
            )
            await session.commit()
        self._shared.forget()
        return changed

    async def issue_state(self) -> str:
        async with self._sessions() as session:
            state = await _issue_state(session, secret=self._state_secret, now=self._now())
            await session.commit()
        return state

    async def consume_state(self, state: str) -> bool:
        async with self._sessions() as session:
            consumed = await _consume_state(session, state, secret=self._state_secret, now=self._now())
            await session.commit()
        return consumed


def _slack() -> ColumnElement[bool]:
    return Workspace.platform == Platform.SLACK.value


def _key(install: Install) -> str:
    return key_of(install.enterprise_id, None if install.is_enterprise_install else install.team_id)


def _install(row: SlackInstallation, cipher: MultiFernet) -> Install | None:
    try:
        token = cipher.decrypt(row.bot_token_encrypted.encode()).decode()
    except InvalidToken:
        # ENCRYPTION_KEY changed without keeping the old key: the workspace must install the app again.
        logger.error(
            "the Slack bot token of installation %s cannot be decrypted: was ENCRYPTION_KEY changed "
            "without keeping the old key? The app must be installed there again",
            row.key,
        )
        return None
    return Install(
        enterprise_id=row.enterprise_id,
        enterprise_name=row.enterprise_name,
        team_id=row.team_id,
        team_name=row.team_name,
        is_enterprise_install=row.is_enterprise_install,
        app_id=row.app_id,
        bot_id=row.bot_id,
        bot_user_id=row.bot_user_id,
        bot_scopes=row.bot_scopes,
        bot_token=token,
        bot_refresh_token=None,
        bot_token_expires_at=row.bot_token_expires_at,
        installer_user_id=row.installer_user_id,
        installed_at=row.installed_at,
        sealed_refresh=row.bot_refresh_token_encrypted,
        updated_at=row.updated_at,
    )


# -- the install flow's states ------------------------------------------------------------------------


def _state_hash(state: str, secret: bytes) -> str:
    """Only an HMAC of the state is kept, keyed by SLACK_STATE_SECRET: the table gives nothing to replay."""
    return hmac.new(secret, state.encode(), hashlib.sha256).hexdigest()


async def _issue_state(session: AsyncSession, *, secret: bytes, now: datetime) -> str:
    """A new single-use `state` for the install page. The caller commits."""
    state = secrets.token_urlsafe(32)
    session.add(SlackOAuthState(state_hash=_state_hash(state, secret), expires_at=now + STATE_TTL))
    await session.execute(delete(SlackOAuthState).where(SlackOAuthState.expires_at < now))
    return state


async def _consume_state(session: AsyncSession, state: str, *, secret: bytes, now: datetime) -> bool:
    """True once for a `state` this install issued and that has not expired; False for a forged,
    expired or already used one. The caller commits."""
    if not state or len(state) > 256:
        return False
    deleted = await session.execute(
        delete(SlackOAuthState).where(
            SlackOAuthState.state_hash == _state_hash(state, secret), SlackOAuthState.expires_at >= now
        )
    )
    return bool(deleted.rowcount)  # type: ignore[attr-defined]
