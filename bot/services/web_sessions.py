"""Browser sessions and sign-ins under way, stored server side (`models.WebSession`, `SignInAttempt`).

A session lasts `SESSION_TTL` at most (a working day: one sign-in in the morning) and ends sooner after
`IDLE_TIMEOUT` without a request (a browser left open on a shared computer). The cookie carries a
random token; the database keeps only its SHA-256, so neither a copy of the database nor its logs sign
anybody in. Every form posts the session's CSRF token back, compared in constant time. A sign-in under
way is single use: the callback marks it finished before it calls the provider.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.signin import new_code_verifier
from models import Member, SignInAttempt, WebSession

SESSION_TTL: Final = timedelta(hours=12)
IDLE_TIMEOUT: Final = timedelta(hours=2)
# `last_seen` is written at most this often: a page view is a read, not a write, on most requests.
SEEN_RESOLUTION: Final = timedelta(minutes=5)
SIGNIN_TTL: Final = timedelta(minutes=10)
NEXT_MAX_LENGTH: Final = 512
DEFAULT_NEXT: Final = "/me"


def digest(secret: str) -> str:
    """What is stored of a token or a state: its SHA-256 (hex)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(given: str | None, expected: str | None) -> bool:
    """Two secrets are equal, compared in constant time; a missing one never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """`value` when it is a path on this site, else `default`: no open redirect. Refused: anything with
    a scheme or a host (`https://…`, `//evil`), a backslash (browsers read `/\\evil` as `//evil`), a
    control character, or a path longer than `NEXT_MAX_LENGTH`."""
    if not value or len(value) > NEXT_MAX_LENGTH or not value.startswith("/"):
        return default
    if value.startswith("//") or "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


@dataclass(frozen=True)
class Opened:
    """A new session: `token` goes in the cookie (and nowhere else)."""

    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    """The session a request's cookie names, with its member."""

    session_id: int
    workspace_id: int
    member: Member
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class Started:
    """A sign-in under way: `state` goes to the provider and in the browser's cookie, `nonce` to the
    provider, and only the challenge of `code_verifier` (PKCE) leaves this server before the callback."""

    state: str
    nonce: str
    code_verifier: str


async def start_signin(session: AsyncSession, *, provider: str, next_path: str, now: datetime) -> Started:
    """Record a sign-in under way (its state hashed; its nonce and PKCE verifier as they are, both
    useless without the provider's single-use code). The caller commits."""
    started = Started(
        state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32), code_verifier=new_code_verifier()
    )
    session.add(
        SignInAttempt(
            provider=provider,
            state_hash=digest(started.state),
            nonce=started.nonce,
            code_verifier=started.code_verifier,
            next_path=safe_next(next_path),
            created_at=now,
            expires_at=now + SIGNIN_TTL,
        )
    )
    return started


async def consume_signin(
    session: AsyncSession, *, provider: str, state: str, now: datetime
) -> SignInAttempt | None:
    """The sign-in under way this state names, marked finished; None when there is none, it expired,
    or it was used already (a replayed callback). The caller commits before calling the provider."""
    used = await session.execute(
        update(SignInAttempt)
        .where(
            SignInAttempt.state_hash == digest(state),
            SignInAttempt.provider == provider,
            SignInAttempt.finished_at.is_(None),
            SignInAttempt.expires_at > now,
        )
        .values(finished_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
        return None
    return await session.scalar(select(SignInAttempt).where(SignInAttempt.state_hash == digest(state)))


async def open_session(session: AsyncSession, *, member: Member, now: datetime) -> Opened:
    """A new session for `member` (a new token at every sign-in: no session fixation). The caller
    commits."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = now + SESSION_TTL
    session.add(
        WebSession(
            workspace_id=member.workspace_id,
            member_id=member.id,
            token_hash=digest(token),
            csrf_token=csrf,
            created_at=now,
            expires_at=expires_at,
            last_seen=now,
        )
    )
    return Opened(token=token, csrf_token=csrf, expires_at=expires_at)


def _alive(row: WebSession, now: datetime) -> bool:
    return now < row.expires_at and now - row.last_seen < IDLE_TIMEOUT


async def find_session(session: AsyncSession, *, token: str | None, now: datetime) -> SignedIn | None:
    """The live session of this cookie token, its `last_seen` moved on when stale (the caller commits);
    None for no token, an unknown one, an expired or idle session (which is deleted), or a member who
    left."""
    if not token or len(token) > 128:
        return None
    row = await session.scalar(select(WebSession).where(WebSession.token_hash == digest(token)))
    if row is None:
        return None
    if not _alive(row, now):
        await session.delete(row)
        return None
    member = await session.get(Member, row.member_id)
    if member is None or not member.active:
        await session.delete(row)
        return None
    if now - row.last_seen >= SEEN_RESOLUTION:
        row.last_seen = now
    return SignedIn(
        session_id=row.id,
        workspace_id=row.workspace_id,
        member=member,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


async def close_session(session: AsyncSession, *, token: str | None) -> None:
    """Sign out: the session of this token is gone (nothing happens for an unknown one). The caller
    commits."""
    if token and len(token) <= 128:
        await session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


async def purge(session: AsyncSession, *, now: datetime) -> int:
    """Delete ended sessions and sign-ins no longer usable; how many rows went. The caller commits."""
    sessions = await session.execute(
        delete(WebSession).where(
            or_(WebSession.expires_at <= now, WebSession.last_seen <= now - IDLE_TIMEOUT)
        )
    )
    attempts = await session.execute(delete(SignInAttempt).where(SignInAttempt.expires_at <= now))
    return int(sessions.rowcount) + int(attempts.rowcount)  # type: ignore[attr-defined]
