"""Warning members, once, before a connection that cannot be refreshed (LinkedIn) ends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import members as member_service
from bot.services import outbox
from models import Member, Network, SocialAccount, SocialAccountStatus, Workspace

EXPIRY_WARNING: Final = timedelta(days=7)
EXPIRING_KIND: Final = "social_expiring"


async def warn_expiring(
    session: AsyncSession, *, now: datetime, queued_at: datetime | None = None
) -> list[int]:
    """Tell each member whose LinkedIn connection ends within `EXPIRY_WARNING` of `now` (it cannot be
    refreshed), once per connection, with a Reconnect button; told at `queued_at` (default `now`:
    `relais jobs run --at` a later time sends at once). Returns the accounts warned."""
    at = queued_at or now
    accounts = (
        await session.scalars(
            select(SocialAccount).where(
                SocialAccount.network == Network.LINKEDIN,
                SocialAccount.status == SocialAccountStatus.CONNECTED,
                SocialAccount.expiry_warned_at.is_(None),
                SocialAccount.expires_at <= now + EXPIRY_WARNING,
                SocialAccount.workspace_id.in_(member_service.served_workspaces()),
            )
        )
    ).all()
    for account in accounts:
        member = await session.get_one(Member, account.member_id)
        account.expiry_warned_at = at
        assert account.expires_at is not None
        await outbox.enqueue(
            session,
            workspace_id=account.workspace_id,
            kind=EXPIRING_KIND,
            destination=member.external_id,
            payload={
                "network": account.network.value,
                "expires_at": account.expires_at.isoformat(),
                "timezone": member_service.timezone_of(
                    member, await session.get_one(Workspace, account.workspace_id)
                ),
                "lang": member_service.language_of(member),
            },
            now=at,
            dedupe_key=f"expiring:{account.id}:{account.expires_at.date().isoformat()}",
        )
    return [account.id for account in accounts]
