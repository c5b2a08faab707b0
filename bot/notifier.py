"""The port for outbound chat messages: one implementation per platform (Slack, Teams).

The outbox drainer hands each message's kind, destination, workspace and platform-neutral payload to the
`Notifier` of the workspace's platform, which renders and sends it and says what happened in a
`Delivered` value, in neutral terms (the codes below). Each notifier also states how fast one destination
may receive messages (`RatePolicy`): the drainer paces every destination by it. A platform that also
limits all of an app's requests in a workspace (Teams: 50 a second per app per tenant) has its notifier
take a slot of the workspace's shared pace before each request it makes (`WorkspacePace` in
`bot.services.outbox`, by a `RatePolicy` too): per request rather than per message, since only the
notifier knows how many requests a message takes. Both paces hold across every drainer of every process.

A failed send's `retry_after` is the least the platform asked to wait: the outbox retries after it (or
after its own backoff when there is none), plus a random jitter; a notifier adds no jitter of its own.

Destinations are the platform's own ids, and the notifier owns their meaning: a member's id
(`Member.external_id`: a DM) or a channel's. A notifier is told the workspace with each message, so
that a platform which cannot write to a person by id (Teams: a proactive message needs the
conversation reference stored when the person first spoke to the bot) resolves a member's destination
from the database; Slack posts to either id as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Protocol, runtime_checkable

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

# What went wrong, for the people who can act on it (`Delivered.cause`), beside the code: each notifier
# names its platform's errors in these words, and the admins' texts are chosen by them (never by a
# platform's own error names, which only appear in those texts as `detail`). A notifier that cannot tell
# leaves `cause` None: the texts then say that the platform refused, naming its error.
# With `channel_unusable`:
CHANNEL_GONE: Final = "channel_gone"  # deleted, or never existed
CHANNEL_ARCHIVED: Final = "channel_archived"
NOT_A_MEMBER: Final = "not_a_member"  # Relais is not in the channel (never added, removed, uninstalled)
NOT_ALLOWED: Final = "not_allowed"  # Relais is in it but may not post (announcement-only, moderated)
CHANNEL_CAUSES: Final = frozenset({CHANNEL_GONE, CHANNEL_ARCHIVED, NOT_A_MEMBER, NOT_ALLOWED})
# With `too_big` (the cause has the code's name) or `refused`: a bug in Relais the admins can report.
MALFORMED: Final = "malformed"  # the platform found the message malformed
MESSAGE_CAUSES: Final = frozenset({TOO_BIG, MALFORMED})
CAUSES: Final = CHANNEL_CAUSES | MESSAGE_CAUSES


@dataclass(frozen=True)
class Delivered:
    """The outcome of one send. `error` is one of the codes above and is what the domain decides by;
    `cause` (one of `CAUSES`, or None when the notifier cannot tell) is what the admins are told went
    wrong; `detail` is the platform's own error (for logs, `last_error`, and shown in the admins'
    texts beside their words). `retry_after` (seconds) asks for a later attempt. `remedy`, with
    `token_revoked`, is what the operator must do, in the platform's own terms (what may have happened,
    which setting holds the credentials): the core names no platform."""

    ok: bool
    message_id: str | None = None
    channel: str | None = None  # the conversation it landed in (a DM's id differs from the user's)
    error: str | None = None
    detail: str | None = None
    retry_after: float | None = None
    remedy: str | None = None
    cause: str | None = None

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


@runtime_checkable
class FindsDelivered(Protocol):
    """A notifier that can tell whether a message already reached its destination. The outbox asks it
    before sending again a message whose send was interrupted (its drainer died between the call and its
    record: the platform may have it), so that nobody gets it twice. None: not there, or the platform
    cannot be asked; the message is then sent again (at least once). Not delivered with RATE_LIMITED:
    the platform cannot be asked yet; the outbox asks again after `retry_after`, sending nothing."""

    async def find_delivered(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered | None: ...
