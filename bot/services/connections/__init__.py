"""A member's LinkedIn and X connections: `oauth` (personal links and the OAuth round trip), `tokens`
(accounts and their tokens at rest, encrypted), `refresh` (a usable access token for each call) and
`expiry` (warnings before a connection that cannot be refreshed ends). Callers use the names below."""

from __future__ import annotations

from bot.services.connections.expiry import EXPIRING_KIND, EXPIRY_WARNING, warn_expiring
from bot.services.connections.oauth import (
    ATTEMPT_RETENTION,
    CALLBACK_TTL,
    CONNECTED_KIND,
    DENIALS,
    LINK_TTL,
    Connected,
    ConnectFailure,
    SignInFirst,
    Started,
    finish,
    issue_link,
    pkce_challenge,
    purge_attempts,
    redirect_uri,
    start,
    state_digest,
)
from bot.services.connections.refresh import REFRESH_MARGIN, REFRESH_RACE_SECONDS, access_token
from bot.services.connections.tokens import account_of, connected_networks, disconnect, mark_disconnected

__all__ = [
    "ATTEMPT_RETENTION",
    "CALLBACK_TTL",
    "CONNECTED_KIND",
    "DENIALS",
    "EXPIRING_KIND",
    "EXPIRY_WARNING",
    "LINK_TTL",
    "REFRESH_MARGIN",
    "REFRESH_RACE_SECONDS",
    "ConnectFailure",
    "Connected",
    "SignInFirst",
    "Started",
    "access_token",
    "account_of",
    "connected_networks",
    "disconnect",
    "finish",
    "issue_link",
    "mark_disconnected",
    "pkce_challenge",
    "purge_attempts",
    "redirect_uri",
    "start",
    "state_digest",
    "warn_expiring",
]
