"""The message admins get for an employee's suggestion, with Approve / Reject (and once decided)."""

from __future__ import annotations

from handlers.slack.blocks import Blocks, button, context, escape, quote, section
from handlers.slack.text import t


def build_suggestion_review(
    *, suggestion_id: int, author_id: str, url: str, reason: str | None, lang: str, decided: str | None = None
) -> tuple[str, Blocks]:
    text = t(lang, "suggestion_review", user=f"<@{author_id}>", url=escape(url))
    body = text + ("\n" + quote(reason) if reason else "")
    blocks: Blocks = [section(body)]
    if decided is not None:
        blocks.append(context(decided))
    else:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"suggestion:{suggestion_id}",
                "elements": [
                    button(
                        t(lang, "approve"), "suggestion_approve", value=str(suggestion_id), style="primary"
                    ),
                    button(t(lang, "reject"), "suggestion_reject", value=str(suggestion_id), style="danger"),
                ],
            }
        )
    return text, blocks
