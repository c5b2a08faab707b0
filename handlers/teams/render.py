"""Neutral messages (`bot.messages`) as Adaptive Cards 1.5: the one place that turns the core's messages
into what Teams shows. Typed text is escaped, catalogue markup is already Teams' Markdown subset, links
are `[label](url)`, and every card is fitted under Relais's size budget (`handlers.teams.fit`).

- Parts: a heading is a bold TextBlock, a section a TextBlock (with its image in a column beside it,
  or its button under it), facts a FactSet, a note small subtle text, a divider the `separator` of
  what follows, a row of buttons an ActionSet in place (a nudge has one row per post).
- Buttons that call Relais back are `Action.Execute` (verb = the action's id, data = `{"action": id,
  "value": value, "row": the row's id}`) with an `Action.Submit` fallback carrying the same data for
  clients without Universal Actions; a button with a URL is `Action.OpenUrl` (Teams tells the bot
  nothing about that click). Styles: primary is `positive`, danger `destructive`.
- Mentions: a member whose display name the caller knows (`names`, platform id → name) is a real
  mention, `<at>Name</at>` declared in the card's `msteams.entities`; without a name (and for channels,
  whose names the core does not keep) it is plain text. Cards do not render mentions everywhere (the
  Agents Playground shows none), and a mention is never the only place a name appears in a summary.
- The summary (plain text) is the card's `fallbackText` and the activity's `summary`; the notifier sends
  the card without `text` (a client that gets both shows two messages, and the card can no longer be
  updated).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bot.i18n import template
from bot.messages import (
    Action,
    Actions,
    Divider,
    Facts,
    Heading,
    Image,
    Inline,
    Joined,
    Link,
    Mention,
    Message,
    Note,
    Part,
    Quote,
    Section,
    Strong,
    Text,
)
from handlers.teams.fit import card_budget, fit_card
from handlers.teams.text import COMMAND, escape, link, paragraphs, t

ADAPTIVE_CARD: Final = "application/vnd.microsoft.card.adaptive"
CARD_VERSION: Final = "1.5"
CARD_SCHEMA: Final = "http://adaptivecards.io/schemas/adaptive-card.json"
STYLES: Final = {"primary": "positive", "danger": "destructive"}

Card = dict[str, Any]
Element = dict[str, Any]


def render(message: Message, *, names: Mapping[str, str] | None = None) -> tuple[str, Card]:
    """`(summary, card)`: the plain-text summary and the Adaptive Card, fitted to the size budget."""
    renderer = _Renderer(names or {})
    summary = renderer.plain(message.summary)
    body = renderer.body(message.parts) or [_text_block(renderer.markdown(message.summary))]
    card: Card = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "fallbackText": summary,
        "body": body,
    }
    if renderer.entities:
        card["msteams"] = {"entities": list(renderer.entities.values())}
    return summary, fit_card(card, budget=card_budget(summary))


def render_parts(
    parts: tuple[Part, ...] | list[Part], *, names: Mapping[str, str] | None = None
) -> list[Element]:
    """Card body elements alone (a card the caller assembles itself: an invoke's refreshed card, a form)."""
    return _Renderer(names or {}).body(parts)


def markdown(content: Inline | int | float, *, names: Mapping[str, str] | None = None) -> str:
    """Inline content as Teams Markdown (mentions as plain text: no card declares them here)."""
    return _Renderer(names or {}, mentions=False).markdown(content)


def attachment(card: Card) -> dict[str, Any]:
    """The activity attachment that carries `card`."""
    return {"contentType": ADAPTIVE_CARD, "content": card}


class _Renderer:
    def __init__(self, names: Mapping[str, str], *, mentions: bool = True) -> None:
        self.names = names
        self.mentions = mentions
        self.entities: dict[str, dict[str, Any]] = {}  # mention text -> its entity

    # -- inline -------------------------------------------------------------------------------------------

    def markdown(self, content: Inline | int | float) -> str:
        if isinstance(content, str):
            return escape(content)
        if isinstance(content, int | float):
            return str(content)
        if isinstance(content, Text):
            params = {name: self.markdown(value) for name, value in content.params.items()}
            return t(content.lang, content.key, **params)
        if isinstance(content, Link):
            return link(content.url, self.markdown(content.label))
        if isinstance(content, Mention):
            return self._mention(content)
        if isinstance(content, Strong):
            inner = self.markdown(content.content)
            return f"**{inner}**" if inner else ""
        if isinstance(content, Quote):
            # Teams has no block quote: each line of someone's words in italics.
            return "\n".join(
                f"_{escape(line.strip())}_" for line in content.content.splitlines() if line.strip()
            )
        if isinstance(content, Joined):
            return content.separator.join(self.markdown(part) for part in content.parts)
        raise TypeError(f"not inline content: {content!r}")

    def _mention(self, mention: Mention) -> str:
        name = self.names.get(mention.ref)
        if mention.kind == "member" and name and self.mentions:
            shown = f"<at>{_tag_safe(name)}</at>"
            self.entities[shown] = {
                "type": "mention",
                "text": shown,
                "mentioned": {"id": mention.ref, "name": name},
            }
            return shown
        return escape(self._plain_mention(mention))

    def _plain_mention(self, mention: Mention) -> str:
        name = self.names.get(mention.ref)
        if mention.kind == "member":
            return name or "@" + mention.ref
        return "#" + (name or mention.ref)

    def plain(self, content: Inline | int | float) -> str:
        """Inline content as plain text (a summary, a button's title), names resolved."""
        if isinstance(content, str):
            return content
        if isinstance(content, int | float):
            return str(content)
        if isinstance(content, Text):
            # No markup in plain text: neither bold nor a code span's backticks (Teams would show them).
            bare = template(content.lang, content.key, command=COMMAND).replace("**", "").replace("`", "")
            return bare.format(**{name: self.plain(value) for name, value in content.params.items()})
        if isinstance(content, Link):
            return self.plain(content.label)
        if isinstance(content, Mention):
            return self._plain_mention(content)
        if isinstance(content, Strong):
            return self.plain(content.content)
        if isinstance(content, Quote):
            return content.content
        if isinstance(content, Joined):
            return content.separator.join(self.plain(part) for part in content.parts)
        raise TypeError(f"not inline content: {content!r}")

    # -- parts --------------------------------------------------------------------------------------------

    def body(self, parts: tuple[Part, ...] | list[Part]) -> list[Element]:
        body: list[Element] = []
        separate = False
        for part in parts:
            if isinstance(part, Divider):
                separate = bool(body)  # a divider first or twice in a row shows nothing more
                continue
            elements = self._elements(part)
            if elements and separate:
                elements[0] = {**elements[0], "separator": True, "spacing": "Medium"}
            separate = False
            body += elements
        return body

    def _elements(self, part: Part) -> list[Element]:
        if isinstance(part, Section):
            block = _text_block(self.markdown(part.text))
            if part.image is not None:
                columns = [
                    {"type": "Column", "width": "stretch", "items": [block]},
                    {"type": "Column", "width": "auto", "items": [_image(part.image, size="Medium")]},
                ]
                return [{"type": "ColumnSet", "columns": columns}]
            if part.action is not None:
                return [block, {"type": "ActionSet", "actions": [self._action(part.action, None)]}]
            return [block]
        if isinstance(part, Heading):
            return [
                {
                    **_text_block(self.markdown(part.text)),
                    "style": "heading",
                    "weight": "Bolder",
                    "size": "Large",
                }
            ]
        if isinstance(part, Note):
            return [{**_text_block(self.markdown(part.text)), "size": "Small", "isSubtle": True}]
        if isinstance(part, Facts):
            facts = [
                {"title": paragraphs(self.markdown(label)), "value": paragraphs(self.markdown(value))}
                for label, value in part.items
            ]
            return [{"type": "FactSet", "facts": facts}]
        if isinstance(part, Image):
            return [_image(part)]
        if isinstance(part, Actions):
            row: Element = {
                "type": "ActionSet",
                "actions": [self._action(item, part.id) for item in part.items],
            }
            if part.id is not None:
                row["id"] = part.id
            return [row]
        raise TypeError(f"not a message part: {part!r}")

    def _action(self, action: Action, row: str | None) -> Element:
        title = self.plain(action.label)
        if action.url is not None:
            element: Element = {"type": "Action.OpenUrl", "title": title, "url": action.url}
        else:
            data: dict[str, str] = {"action": action.id}
            if action.value is not None:
                data["value"] = action.value
            if row is not None:
                data["row"] = row
            element = {
                "type": "Action.Execute",
                "title": title,
                "verb": action.id,
                "data": data,
                "fallback": {"type": "Action.Submit", "title": title, "data": dict(data)},
            }
        if action.style is not None:
            element["style"] = STYLES[action.style]
            if "fallback" in element:
                element["fallback"]["style"] = STYLES[action.style]
        return element


def _text_block(markdown: str) -> Element:
    return {"type": "TextBlock", "text": paragraphs(markdown), "wrap": True}


def _image(image: Image, *, size: str | None = None) -> Element:
    element: Element = {"type": "Image", "url": image.url, "altText": image.alt}
    if size is not None:
        element["size"] = size
    return element


def _tag_safe(name: str) -> str:
    """A name inside `<at>…</at>`: no angle brackets (they would end the tag)."""
    return name.replace("<", "").replace(">", "")
