"""A member's connected accounts and their tokens at rest: stored encrypted with `ENCRYPTION_KEY` and
decrypted only to make a call."""

from __future__ import annotations

import logging
from datetime import datetime

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.social import SocialClient, SocialError, TokenSet, Unauthorized
from models import Network, SocialAccount, SocialAccountStatus

logger = logging.getLogger(__name__)


def put_tokens(account: SocialAccount, cipher: MultiFernet, tokens: TokenSet, now: datetime) -> None:
    account.access_token_encrypted = cipher.encrypt(tokens.access_token.encode()).decode()
    if tokens.refresh_token is not None:
        account.refresh_token_encrypted = cipher.encrypt(tokens.refresh_token.encode()).decode()
    account.expires_at = tokens.expires_at
    account.scopes = tokens.scopes
    account.updated_at = now


async def account_of(session: AsyncSession, *, member_id: int, network: Network) -> SocialAccount | None:
    return await session.scalar(
        select(SocialAccount).where(SocialAccount.member_id == member_id, SocialAccount.network == network)
    )


async def connected_networks(session: AsyncSession, *, member_id: int) -> dict[Network, SocialAccount]:
    accounts = await session.scalars(
        select(SocialAccount).where(
            SocialAccount.member_id == member_id, SocialAccount.status == SocialAccountStatus.CONNECTED
        )
    )
    return {account.network: account for account in accounts}


async def revoke_unstored(client: SocialClient, network: Network, tokens: TokenSet) -> None:
    """Tokens the network granted that Relais cannot keep (their member was erased, or their connection
    removed, while the network answered): revoked where the network allows it, never stored."""
    for token in (tokens.access_token, tokens.refresh_token):
        if not token:
            continue
        try:
            await client.revoke(token)
        except (SocialError, OSError):
            logger.warning(
                "revoking a %s token granted too late to keep failed; it is not kept", network.value
            )


def decrypt_token(cipher: MultiFernet, value: str) -> str:
    """A stored token in clear; one that no current key decrypts (`ENCRYPTION_KEY` replaced without
    keeping the old key) is as good as none: the member must reconnect."""
    try:
        return cipher.decrypt(value.encode()).decode()
    except InvalidToken:
        raise Unauthorized("the stored token cannot be decrypted with ENCRYPTION_KEY") from None


async def mark_disconnected(
    sessions: async_sessionmaker[AsyncSession], *, account_id: int, now: datetime
) -> None:
    """The network refused the account's tokens for good: the member must reconnect."""
    async with sessions() as session:
        await session.execute(
            update(SocialAccount)
            .where(SocialAccount.id == account_id)
            .values(status=SocialAccountStatus.DISCONNECTED, updated_at=now)
        )
        await session.commit()


async def disconnect(
    sessions: async_sessionmaker[AsyncSession],
    *,
    cipher: MultiFernet,
    client: SocialClient | None,
    member_id: int,
    network: Network,
) -> bool:
    """Forget the member's tokens for `network` (revoking them first where the network allows).
    False if there was no connection."""
    async with sessions() as session:
        account = await account_of(session, member_id=member_id, network=network)
        if account is None:
            return False
        encrypted = [account.access_token_encrypted, account.refresh_token_encrypted]
        await session.execute(delete(SocialAccount).where(SocialAccount.id == account.id))
        await session.commit()
    if client is not None:
        for value in encrypted:
            if value:
                try:
                    await client.revoke(cipher.decrypt(value.encode()).decode())
                except (SocialError, InvalidToken):
                    logger.warning("revoking a %s token failed; it was forgotten anyway", network.value)
    return True
