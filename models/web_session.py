"""Browser sign-in: a signed-in browser's session, and a sign-in under way (the provider round trip)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Id, WorkspaceScoped


class WebSession(WorkspaceScoped, Base):
    """A browser signed in as `member_id`. The cookie holds a random token; only its SHA-256
    (`token_hash`) is stored, so a copy of the database signs nobody in. `csrf_token` is the value every
    form of this session posts back. `expires_at` is the absolute end; `last_seen` (written at most every
    few minutes) ends an idle session sooner. Every time comes from the injected clock: no defaults."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("member.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen: Mapped[datetime]


class SignInAttempt(Base):
    """One trip to a sign-in provider. Not scoped to a workspace: nobody knows which one until the
    provider answers. `state_hash` is the SHA-256 of the `state` the provider echoes back (the browser
    holds it in a short-lived cookie); `finished_at` marks it used, so a replayed callback does nothing.
    `nonce` is checked against the provider's ID token; `code_verifier` is the PKCE secret (RFC 7636)
    sent with the code at the callback, its S256 challenge having gone to the provider; `next_path` is
    where the browser goes after (a local path, checked before it is stored)."""

    __tablename__ = "signin_attempt"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
