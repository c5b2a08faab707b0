"""Text for Adaptive Cards in Teams: the Markdown subset a TextBlock (and a FactSet's titles and values)
shows — `**bold**`, `_italic_`, `[label](url)`, lists — with no HTML, no code and no block quotes.

The catalogues' neutral markup is that subset already (`**bold**`, `_italic_`, `• ` bullets), so a
catalogue template goes in as it is, but for `` `code` ``: Teams would show the backticks, so a code
span is plain text. Typed text is escaped with backslashes (what Teams' renderers honour, desktop and
mobile), and line breaks become paragraph breaks: a TextBlock's Markdown ignores a single newline."""

from __future__ import annotations

import re
from functools import cache

from bot.i18n import template

# How a person calls Relais in Teams, before each command a text names (`bot.i18n.COMMAND`): nothing.
# Relais answers every command in the person's 1:1 chat with it, where a command is typed as it is
# (`help`); in a channel, the @mention that goes before it is Teams' own way of addressing Relais.
COMMAND = ""

# The characters that would start markup in Teams' subset: emphasis, links, and the escape itself.
_SPECIAL = re.compile(r"([\\*_\[\]])")
_NEWLINES = re.compile(r"\n+")
_URL_UNSAFE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E"}


def escape(typed: str) -> str:
    """Typed text (a title, a caption, a name) that Teams shows exactly as typed, never as markup."""
    return _SPECIAL.sub(r"\\\1", typed)


def link(url: str, label: str) -> str:
    """`[label](url)`, the label already Markdown. A space or a parenthesis would end the address early,
    so those are percent-encoded, which keeps the address the same."""
    safe = "".join(_URL_UNSAFE.get(char, char) for char in url)
    return f"[{label}]({safe})"


def paragraphs(markdown: str) -> str:
    """Every line break as a paragraph break (`\\n\\n`), the only one a TextBlock shows."""
    return _NEWLINES.sub("\n\n", markdown)


@cache
def _template(lang: str, key: str) -> str:
    """A catalogue template as Teams Markdown: Teams shows no code, so `` `code` `` is plain text."""
    return template(lang, key, command=COMMAND).replace("`", "")


def t(lang: str, key: str, /, **params: object) -> str:
    """The message `key` in `lang` as Teams Markdown, formatted with `params` (already Markdown)."""
    return _template(lang if lang == "fr" else "en", key).format(**params)


def clip(markdown: str, limit: int) -> str:
    """`markdown` shortened to at most `limit` characters with an ellipsis, never cut inside a link, a
    mention (`<at>…</at>`), a pair of `**` or `_`, or a backslash escape (Teams would show the broken
    markup)."""
    if len(markdown) <= limit:
        return markdown
    cut = markdown[: max(limit - 1, 0)]
    while (shorter := _unbroken(cut)) != cut:
        cut = shorter
    return cut.rstrip() + "…"


# A whole link (its label's escapes included) and a whole mention, from their first character.
_LINK = re.compile(r"\[(?:\\.|[^\]\\])*\]\([^)]*\)")
_MENTION = re.compile(r"<at>.*?</at>", re.DOTALL)


def _unbroken(cut: str) -> str:
    """`cut` without the last piece of markup it opened and did not close (one piece at a time)."""
    if _trailing_backslashes(cut) % 2:
        return cut[:-1]
    opening = _last_unescaped(cut, "[")
    if opening != -1 and not _LINK.match(cut, opening):
        return cut[:opening]
    mention = cut.rfind("<at>")
    if mention > cut.rfind("</at>"):
        return cut[:mention]
    tag = cut.rfind("<")
    if tag > cut.rfind(">") and "<at>".startswith(cut[tag:]):  # cut inside an opening tag
        return cut[:tag]
    # Inside links' addresses and mentions, `_` and `*` are not emphasis.
    masked = _MENTION.sub(lambda m: " " * len(m.group()), cut)
    masked = _LINK.sub(_mask_address, masked)
    for marker in ("**", "_"):
        positions = _unescaped_positions(masked, marker)
        if len(positions) % 2:
            return cut[: positions[-1]]
    return cut


def _mask_address(link: re.Match[str]) -> str:
    label_end = link.group().index("](")
    return link.group()[:label_end] + " " * (len(link.group()) - label_end)


def _trailing_backslashes(text: str) -> int:
    return len(text) - len(text.rstrip("\\"))


def _escaped(text: str, index: int) -> bool:
    return _trailing_backslashes(text[:index]) % 2 == 1


def _last_unescaped(text: str, char: str) -> int:
    index = text.rfind(char)
    while index != -1 and _escaped(text, index):
        index = text.rfind(char, 0, index)
    return index


def _unescaped_positions(text: str, marker: str) -> list[int]:
    positions: list[int] = []
    index = text.find(marker)
    while index != -1:
        if _escaped(text, index):
            index = text.find(marker, index + 1)
        else:
            positions.append(index)
            index = text.find(marker, index + len(marker))
    return positions
