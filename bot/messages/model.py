"""A message any chat platform can show: text, sections, facts, images and actions.

The core decides what a message says and which buttons it carries; each platform's renderer decides how
it looks (Block Kit for Slack, an Adaptive Card for Teams). Text is kept as structure until the last
moment, so that each renderer escapes and marks it up its own way:

- a plain `str` is text as someone typed it (a title, a caption, a name): never read as markup;
- `Text` is a catalogue message (`bot.i18n`) in a language, with its parameters (themselves inline);
- `Link`, `Mention` and `Joined` are a link, a reference to a member or channel by the platform's own
  id, and inline pieces joined by a separator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from bot.i18n import NEUTRAL_COMMAND, template


@dataclass(frozen=True)
class Text:
    """The catalogue message `key` in `lang`; each parameter is inline content or a number."""

    lang: str
    key: str
    params: Mapping[str, Inline | int | float] = field(default_factory=dict)


@dataclass(frozen=True)
class Link:
    url: str
    label: Inline


@dataclass(frozen=True)
class Mention:
    """A member or a channel, by the platform's own id (the renderer knows how to name it)."""

    kind: Literal["member", "channel"]
    ref: str


@dataclass(frozen=True)
class Joined:
    parts: tuple[Inline, ...]
    separator: str = ""


@dataclass(frozen=True)
class Strong:
    """Inline content shown in bold."""

    content: Inline


@dataclass(frozen=True)
class Quote:
    """Someone's words (a caption, a reason) set apart as a quotation; every line of it."""

    content: str


Inline: TypeAlias = "str | Text | Link | Mention | Joined | Strong | Quote"


def text(lang: str, key: str, /, **params: Inline | int | float) -> Text:
    return Text(lang, key, params)


def lines(*parts: Inline) -> Joined:
    return Joined(tuple(parts), "\n")


# -- the parts of a message ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    text: Inline


@dataclass(frozen=True)
class Image:
    url: str
    alt: str


@dataclass(frozen=True)
class Section:
    """A paragraph, with an optional image or button beside it (one of them: a platform shows one)."""

    text: Inline
    image: Image | None = None
    action: Action | None = None


@dataclass(frozen=True)
class Facts:
    """Label and value pairs shown as a short table."""

    items: tuple[tuple[Inline, Inline], ...]


@dataclass(frozen=True)
class Note:
    """Small print under the rest."""

    text: Inline


@dataclass(frozen=True)
class Action:
    """A button: it either sends `id` and `value` back to Relais, or opens `url`."""

    id: str
    label: Inline
    value: str | None = None
    url: str | None = None
    style: Literal["primary", "danger"] | None = None


@dataclass(frozen=True)
class Actions:
    """A row of buttons; `id` names the row (the platform hands it back with a click)."""

    items: tuple[Action, ...]
    id: str | None = None


@dataclass(frozen=True)
class Divider:
    pass


Part: TypeAlias = Heading | Section | Facts | Image | Note | Actions | Divider


@dataclass(frozen=True)
class Message:
    """`summary` is what a notification or a client without rich messages shows."""

    summary: Inline
    parts: tuple[Part, ...] = ()


def plain_text(content: Inline | int | float, *, command: str = NEUTRAL_COMMAND) -> str:
    """Inline content as plain text, without markup (a button's label, a notification's summary).
    `command`: how the platform showing it calls Relais, before each command a text names (`bot.i18n`);
    neutral, the command's words alone."""
    if isinstance(content, str):
        return content
    if isinstance(content, int | float):
        return str(content)
    if isinstance(content, Text):
        bare = template(content.lang, content.key, command=command).replace("**", "")
        return bare.format(
            **{name: plain_text(value, command=command) for name, value in content.params.items()}
        )
    if isinstance(content, Link):
        return plain_text(content.label, command=command)
    if isinstance(content, Mention):
        return ("@" if content.kind == "member" else "#") + content.ref
    if isinstance(content, Strong):
        return plain_text(content.content, command=command)
    if isinstance(content, Quote):
        return content.content
    return content.separator.join(plain_text(part, command=command) for part in content.parts)


def mentions(message: Message, kind: Literal["member", "channel"]) -> set[str]:
    """The ids of the members or channels `message` mentions (a platform that shows them by name looks
    the names up first)."""
    found: set[str] = set()
    _mentions_in(message.summary, kind, found)
    for part in message.parts:
        if isinstance(part, Heading | Section | Note):
            _mentions_in(part.text, kind, found)
        elif isinstance(part, Facts):
            for label, value in part.items:
                _mentions_in(label, kind, found)
                _mentions_in(value, kind, found)
    return found


def _mentions_in(content: Inline | int | float, kind: str, found: set[str]) -> None:
    if isinstance(content, Mention):
        if content.kind == kind:
            found.add(content.ref)
    elif isinstance(content, Text):
        for value in content.params.values():
            _mentions_in(value, kind, found)
    elif isinstance(content, Link | Strong):
        _mentions_in(content.label if isinstance(content, Link) else content.content, kind, found)
    elif isinstance(content, Joined):
        for piece in content.parts:
            _mentions_in(piece, kind, found)
