"""The port for outbound chat messages: one implementation per platform (Slack now, Teams later).

The outbox drainer hands each message's kind, destination, workspace and platform-neutral payload to the
`Notifier` of the workspace's platform, which renders and sends it and says what happened in a
`Delivered` value, in neutral terms (the codes below). Each notifier also states how fast one destination
may receive messages (`RatePolicy`): the drainer paces every destination by it.

Destinations are the platform's own ids, and the notifier owns their meaning: a member's id
(`Member.external_id`: a DM) or a channel's. A notifier is told the workspace with each message, so
that a platform which cannot write to a person by id (Teams: a proactive message needs the
conversation reference stored when the person first spoke to the bot) resolves a member's destination
from the database; Slack posts to either id as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Protocol

# Why a send failed, whatever the platform (the platform's own error goes in `Delivered.detail`).
RECIPIENT_GONE: Final = "recipient_gone"  # the person left: the domain marks them inactive
CHANNEL_UNUSABLE: Final = "channel_unusable"  # gone, archived, not a member, posting restricted
TOKEN_REVOKED: Final = "token_revoked"  # noqa: S105  # the platform refuses Relais's credentials
RATE_LIMITED: Final = "rate_limited"  # try again after `retry_after`
TOO_BIG: Final = "too_big"  # the message exceeds the platform's limits (a bug in Relais)
TRANSIENT: Final = "transient"  # anything a later attempt may fix (network, a platform outage)
REFUSED: Final = "refused"  # refused for good for another reason (malformed, a message to edit gone)

# Codes no retry fixes: the message is recorded as failed.
PERMANENT: Final = frozenset({RECIPIENT_GONE, CHANNEL_UNUSABLE, TOO_BIG, REFUSED})


@dataclass(frozen=True)
class Delivered:
    """The outcome of one send. `error` is one of the codes above and is what the domain decides by;
    `detail` is the platform's own error (for logs, `last_error` and the admins' texts, which name
    it). `retry_after` (seconds) asks for a later attempt. `remedy`, with `token_revoked`, is what the
    operator must do, in the platform's own terms (what may have happened, which setting holds the
    credentials): the core names no platform."""

    ok: bool
    message_id: str | None = None
    channel: str | None = None  # the conversation it landed in (a DM's id differs from the user's)
    error: str | None = None
    detail: str | None = None
    retry_after: float | None = None
    remedy: str | None = None

    @property
    def permanent(self) -> bool:
        return self.error in PERMANENT

    @property
    def reason(self) -> str | None:
        """What to record and show: the platform's own error when it gave one, else the code."""
        return self.detail or self.error


@dataclass(frozen=True)
class RatePolicy:
    """How fast one destination may receive messages: about one every `interval`, in bursts of up to
    `burst` (a token bucket, counted across every drainer of every process)."""

    interval: timedelta
    burst: int


class Notifier(Protocol):
    rate: RatePolicy

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered: ...
