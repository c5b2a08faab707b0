"""The port for outbound chat messages: one implementation per platform (Slack now, Teams later).

The outbox drainer hands each message's kind, destination and platform-neutral payload to a
`Notifier`, which renders and sends it and says what happened in a `Delivered` value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Delivered:
    """The outcome of one send. `retry_after` (seconds) asks for a later attempt; `permanent` failures
    are never retried (unknown channel, archived channel, user gone)."""

    ok: bool
    message_id: str | None = None
    channel: str | None = None  # the conversation it landed in (a DM's id differs from the user's)
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False


class Notifier(Protocol):
    async def send(self, *, kind: str, destination: str, payload: dict[str, Any]) -> Delivered: ...
