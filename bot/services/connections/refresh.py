"""A usable access token for a call: refreshed shortly before it expires, once across processes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Final

from cryptography.fernet import MultiFernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import members as member_service
from bot.services.connections.tokens import decrypt_token, put_tokens, revoke_unstored
from bot.social import SocialClient, TokenSet, Unauthorized
from models import SocialAccount, SocialAccountStatus

REFRESH_MARGIN: Final = timedelta(minutes=5)


async def access_token(
    sessions: async_sessionmaker[AsyncSession],
    *,
    cipher: MultiFernet,
    client: SocialClient,
    account_id: int,
    now: datetime,
    lock: asyncio.Lock,
    force_refresh: bool = False,
) -> str:
    """A usable access token for the account, refreshed first when it is about to expire (or when the
    network just refused it: `force_refresh`). Raises `Unauthorized` when the member must reconnect, or
    when they were erased (or disconnected) while the network renewed the tokens: the new ones are then
    revoked, never stored.

    X rotates refresh tokens: the new pair is committed before it is used; `lock` (one per account)
    serialises refreshes in this process, and when another process spent the refresh token first (the
    network refuses ours) the pair it stored is used instead. No transaction stays open during a call."""
    async with lock:
        async with sessions() as session:
            account = await session.get(SocialAccount, account_id)
            if account is None or account.status is not SocialAccountStatus.CONNECTED:
                raise Unauthorized("not connected")
            access, stored_refresh, expires_at = (
                account.access_token_encrypted,
                account.refresh_token_encrypted,
                account.expires_at,
            )
            owner, network = (account.workspace_id, account.member_id), account.network
        fresh = expires_at is None or now + REFRESH_MARGIN < expires_at
        if fresh and not force_refresh:
            return decrypt_token(cipher, access)
        if not client.can_refresh or stored_refresh is None:
            if expires_at is not None and now < expires_at and not force_refresh:
                return decrypt_token(cipher, access)
            raise Unauthorized("the connection has expired")
        try:
            tokens = await client.refresh(decrypt_token(cipher, stored_refresh), now=now)
        except Unauthorized:
            rotated = await _refreshed_elsewhere(sessions, cipher, account_id, stored_refresh, now)
            if rotated is None:
                raise
            return rotated
        if not await _store(sessions, cipher, account_id, owner, tokens, now):
            # The member was erased (or disconnected) while the network renewed the tokens: the erasure
            # revoked the old ones and deleted the account, so the new ones are revoked here, never
            # kept, and the call is refused as for a connection that ended.
            await revoke_unstored(client, network, tokens)
            raise Unauthorized("the connection ended while its tokens were renewed")
        return tokens.access_token


async def _store(
    sessions: async_sessionmaker[AsyncSession],
    cipher: MultiFernet,
    account_id: int,
    owner: tuple[int, int],
    tokens: TokenSet,
    now: datetime,
) -> bool:
    """The renewed tokens stored on the account, its member held against an erasure meanwhile
    (`members.hold_live`: one whose claim comes later finds them, and revokes them); False when the member
    is erased or the account gone."""
    async with sessions() as session:
        account = (
            await session.get(SocialAccount, account_id)
            if await member_service.hold_live(session, [owner])
            else None
        )
        if account is None:
            return False
        put_tokens(account, cipher, tokens, now)
        await session.commit()
    return True


REFRESH_RACE_SECONDS: Final = 3.0


async def _refreshed_elsewhere(
    sessions: async_sessionmaker[AsyncSession],
    cipher: MultiFernet,
    account_id: int,
    spent: str,
    now: datetime,
) -> str | None:
    """After the network refused our refresh token: the access token another process stored when it
    refreshed first (it commits right after its answer, so wait a moment for it), or None."""
    deadline = asyncio.get_running_loop().time() + REFRESH_RACE_SECONDS
    while True:
        async with sessions() as session:
            account = await session.get(SocialAccount, account_id)
            if account is None or account.status is not SocialAccountStatus.CONNECTED:
                return None
            if account.refresh_token_encrypted != spent and (
                account.expires_at is None or now < account.expires_at
            ):
                return decrypt_token(cipher, account.access_token_encrypted)
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(0.1)
