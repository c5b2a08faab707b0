"""Pure Block Kit builders: plain data in, `(fallback text, blocks)` out. No I/O, no ORM rows."""

from __future__ import annotations

from typing import Any

Blocks = list[dict[str, Any]]


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack's escaped text (what a slash command carries) as the characters the person typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def shown(typed: str, limit: int = 100) -> str:
    """What someone typed, echoed back in mrkdwn exactly as typed: `<!channel>` or `<@U1>` show as text,
    never as a mention, and a long paste is clipped."""
    return escape(clip(unescape(typed), limit))


def link(url: str, label: str) -> str:
    """`<url|label>`. Inside the brackets Slack reads `|` as the end of the address and `>` as the end
    of the link, so those (and `<`) are percent-encoded, which keeps the address the same; `&` is
    written `&amp;` as everywhere in mrkdwn."""
    safe = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return f"<{escape(safe)}|{escape(label)}>"


def quote(text: str) -> str:
    """Text as a mrkdwn block quote: every line quoted (a `>` on the first line only quotes that line)."""
    return "\n".join(f">{escape(line)}" for line in text.splitlines() or [""])


def clip(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters, never cut inside a `<link|label>`, a mention or an
    `&amp;` entity (Slack would show the broken markup)."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    opening = cut.find("<", cut.rfind(">") + 1)  # the first `<` left open, however many follow
    if opening != -1:
        cut = cut[:opening]
    ampersand = cut.rfind("&")
    if ampersand != -1 and ";" not in cut[ampersand:]:
        cut = cut[:ampersand]
    return cut.rstrip() + "…"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 3000)}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, 3000)}]}


def button(
    text: str, action_id: str, *, value: str | None = None, url: str | None = None, style: str | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, 75), "emoji": True},
        "action_id": action_id,
    }
    if value is not None:
        element["value"] = value
    if url is not None:
        element["url"] = url
    if style is not None:
        element["style"] = style
    return element
