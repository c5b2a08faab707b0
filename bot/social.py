"""The port for social networks: one client per network (LinkedIn, X in `handlers/social`), each offering
OAuth, identity, posting and undo, and the ways a call can end.

Each client speaks its API over one shared `httpx.AsyncClient` and turns every answer into a value or one
of the `SocialError`s below, so the posting service decides retries and what to tell the member from the
kind of error alone. No error message ever contains a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from models import Network


@dataclass(frozen=True)
class TokenSet:
    """Tokens as the provider granted them. `expires_at` is computed from `expires_in` and `now`."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: str | None

    def __repr__(self) -> str:  # never show a token in a log line or a traceback
        return f"TokenSet(expires_at={self.expires_at!r}, scopes={self.scopes!r})"


@dataclass(frozen=True)
class Published:
    """The network's own answer for a new post: its id (LinkedIn URN, X post id) and a link to it."""

    external_id: str
    url: str


@dataclass(frozen=True)
class Image:
    """An image's bytes as fetched (JPEG, PNG or GIF), to upload as a card's thumbnail."""

    data: bytes
    content_type: str

    def __repr__(self) -> str:
        return f"Image({self.content_type}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Article:
    """The link shown as a card under the post (LinkedIn's `content.article`). `source` is the member's
    tracked link; `title` and `description` come from the page's preview."""

    source: str
    title: str
    description: str | None = None
    thumbnail: Image | None = None


class SocialError(Exception):
    """A call did not do what was asked. `reason` is a short stable code (used in i18n keys and stored
    on the share), `status` the HTTP status if there was an answer, `detail` a safe human-readable text."""

    reason = "error"

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail or self.reason)
        self.detail = detail or self.reason
        self.status = status


class Unauthorized(SocialError):
    """401: the token is invalid, expired or revoked. The member must (re)connect."""

    reason = "unauthorized"


class RateLimited(SocialError):
    """429: try again at `retry_at` (from `Retry-After` or `x-rate-limit-reset`), or later if unknown."""

    reason = "rate_limited"

    def __init__(
        self, detail: str = "", *, status: int | None = 429, retry_at: datetime | None = None
    ) -> None:
        super().__init__(detail, status=status)
        self.retry_at = retry_at


class Transient(SocialError):
    """The request was certainly not acted on (503, connection refused, connect timeout; any 5xx for a
    call that changes nothing): safe to retry."""

    reason = "unavailable"


class OutcomeUnknown(SocialError):
    """The request may have been acted on (timeout after sending, connection lost mid-answer, 500, 502,
    504 to a publishing call): never retried blindly."""

    reason = "unknown"


class Unclear(OutcomeUnknown):
    """An error answer to a publishing call that does not say whether the work was done (500, 502): the
    provider may have made the post before failing. Never retried blindly."""

    reason = "unclear"


class Rejected(SocialError):
    """A definite refusal that retrying will not fix. `reason` is one of `duplicate`, `too_long`,
    `forbidden`, `invalid`."""

    def __init__(self, reason: str, detail: str = "", *, status: int | None = None) -> None:
        self.reason = reason
        super().__init__(detail, status=status)


class SocialClient(Protocol):
    network: Network
    uses_pkce: bool  # X: PKCE S256; LinkedIn: a confidential client without PKCE
    can_refresh: bool  # X: refresh tokens; LinkedIn: members reconnect every 60 days

    def authorization_url(self, *, redirect_uri: str, state: str, code_challenge: str | None) -> str: ...

    async def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, now: datetime
    ) -> TokenSet: ...

    async def refresh(self, refresh_token: str, *, now: datetime) -> TokenSet: ...

    async def person_id(self, access_token: str) -> str: ...

    async def publish(
        self, access_token: str, *, person_id: str, text: str, now: datetime, article: Article | None = None
    ) -> Published:
        """Post `text`; `article`, where the network takes one (LinkedIn), is shown as a card."""
        ...

    async def delete(self, access_token: str, *, external_id: str, now: datetime) -> bool: ...

    async def revoke(self, token: str) -> bool: ...
