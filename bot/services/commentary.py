"""LinkedIn's "little" text format, as the core needs it: how a caption is escaped into a post's
`commentary` and how long LinkedIn then finds it, so a caption too long is refused when the post is queued
rather than at share time. The LinkedIn client escapes what it posts with these same functions.
"""

from __future__ import annotations

import re
from typing import Final

MAX_COMMENTARY: Final = 3000  # characters of `commentary`, counted after escaping
# The characters of LinkedIn's "little" text format; `commentary` needs them backslash-escaped to show them
# as typed (an unescaped one can silently cut the post short).
_LITTLE_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")


_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
# A link in the text: a `#` inside it is a fragment (`/docs/#install`), never a hashtag.
_URL = re.compile(r"\bhttps?://\S+", re.IGNORECASE)


def escape_commentary(text: str) -> str:
    """`text` as little-format commentary: reserved characters escaped (URLs too: the docs make no exception
    for them, and escapes are undone when LinkedIn parses the text), and `#word` outside links written as
    LinkedIn's hashtag element so it stays a hashtag rather than turning into an escaped `#`."""
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        parts.append(_escape_words(text[last : match.start()]))
        parts.append(_escape(match.group()))
        last = match.end()
    parts.append(_escape_words(text[last:]))
    return "".join(parts)


def _escape(text: str) -> str:
    return _LITTLE_RESERVED.sub(r"\\\1", text)


def _escape_words(text: str) -> str:
    """Escape text that holds no link, keeping its hashtags."""
    parts: list[str] = []
    last = 0
    for match in _HASHTAG.finditer(text):
        parts.append(_escape(text[last : match.start()]))
        parts.append("{hashtag|\\#|" + _escape(match.group(1)) + "}")
        last = match.end()
    parts.append(_escape(text[last:]))
    return "".join(parts)


def commentary_length(text: str) -> int:
    """How long LinkedIn finds `text` as commentary (escapes and hashtag elements included): at most
    MAX_COMMENTARY, which is checked when a post is queued."""
    return len(escape_commentary(text))
