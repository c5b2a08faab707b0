"""A chat platform's notifier that sends nothing: it records what the core asked to send, as the core
built it (the outbox row's kind, destination and payload, and the neutral message the payload makes),
and answers as a platform would. Tests of the core's rules assert on it rather than on one platform's
text; the Slack notifier has its own tests against the fake Slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.messages import Action, Actions, Facts, Heading, Message, Note, Section, plain_text
from bot.messages.outbox import message_for
from bot.notifier import REFUSED, Delivered, RatePolicy


@dataclass(frozen=True)
class Shown:
    """What a person sees of a neutral message on a text-only platform: its summary, its lines and its
    buttons (a test's view of any message the core answers or sends)."""

    message: Message

    @property
    def text(self) -> str:
        """The message's summary, as plain text (what a notification shows)."""
        return plain_text(self.message.summary)

    @property
    def body(self) -> str:
        """Every line of text the message shows, as plain text, one part a line."""
        shown: list[str] = []
        for part in self.message.parts:
            if isinstance(part, Section | Heading | Note):
                shown.append(plain_text(part.text))
            elif isinstance(part, Facts):
                shown.extend(f"{plain_text(label)}: {plain_text(value)}" for label, value in part.items)
            elif isinstance(part, Actions):
                shown.append(" · ".join(plain_text(action.label) for action in part.items))
        return "\n".join(shown)

    @property
    def buttons(self) -> list[Action]:
        """The message's buttons, in order (a row's, then those beside a section's text)."""
        found: list[Action] = []
        for part in self.message.parts:
            if isinstance(part, Actions):
                found.extend(part.items)
            elif isinstance(part, Section) and part.action is not None:
                found.append(part.action)
        return found

    @property
    def actions(self) -> list[str]:
        """The ids of the message's rows of buttons, in order (not those beside a section's text)."""
        rows = [part for part in self.message.parts if isinstance(part, Actions)]
        return [action.id for row in rows for action in row.items]

    def button(self, action_id: str) -> Action:
        """The one button with this id (a test failing here names the buttons there are)."""
        found = [action for action in self.buttons if action.id == action_id]
        assert len(found) == 1, f"no single {action_id} button among {[a.id for a in self.buttons]}"
        return found[0]


@dataclass(frozen=True)
class Sent(Shown):
    """One message the core asked the platform to send (fields after the message they carry)."""

    workspace_id: int = 0
    kind: str = ""
    destination: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class RecordingNotifier:
    """Its `rate` paces no test (the core's pacing has its own tests, against Slack's limits)."""

    def __init__(self) -> None:
        self.rate = RatePolicy(interval=timedelta(milliseconds=1), burst=1000)
        self.sent: list[Sent] = []

    async def send(
        self, *, kind: str, destination: str, payload: dict[str, Any], workspace_id: int
    ) -> Delivered:
        message = message_for(kind, payload)
        if message is None:
            return Delivered(ok=False, error=REFUSED, detail=f"unknown kind {kind}")
        self.sent.append(
            Sent(
                message, workspace_id=workspace_id, kind=kind, destination=destination, payload=dict(payload)
            )
        )
        if "message_id" in payload:  # an edit of a message sent before
            return Delivered(ok=True, message_id=str(payload["message_id"]), channel=destination)
        # A member's messages land in a private conversation of its own id, as on most platforms.
        channel = f"D-{destination}" if destination.startswith("U") else destination
        return Delivered(ok=True, message_id=f"m{len(self.sent)}", channel=channel)

    def to(self, destination: str) -> list[Sent]:
        return [sent for sent in self.sent if sent.destination == destination]

    def of_kind(self, kind: str) -> list[Sent]:
        return [sent for sent in self.sent if sent.kind == kind]

    def dms(self) -> dict[str, list[str]]:
        """The summary of each message sent to a member (destinations `U…`), by member."""
        found: dict[str, list[str]] = {}
        for sent in self.sent:
            if sent.destination.startswith("U"):
                found.setdefault(sent.destination, []).append(sent.text)
        return found
