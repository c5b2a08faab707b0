"""The ephemeral answer to a share click: the member's personal share link."""

from __future__ import annotations

from urllib.parse import urlencode

from handlers.slack.blocks import Blocks, button, quote, section
from handlers.slack.blocks.social import connect_button
from handlers.slack.text import t

MAX_BUTTON_URL = 3000
OPEN_ACTIONS = {"linkedin": "open_share_linkedin", "x": "open_share_x"}


def share_intent_url(network: str, *, link: str, caption: str | None) -> str:
    """LinkedIn's share-offsite page takes only the URL; X's intent takes the text and the URL."""
    if network == "linkedin":
        return "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": link})
    with_text = "https://x.com/intent/tweet?" + urlencode(
        {"text": caption, "url": link} if caption else {"url": link}
    )
    if len(with_text) <= MAX_BUTTON_URL:
        return with_text
    # Slack refuses a button URL over 3,000 characters: the caption stays in the message, to copy.
    return "https://x.com/intent/tweet?" + urlencode({"url": link})


def build_share_link(
    *, network: str, post_id: int, link: str, caption: str | None, lang: str, connectable: bool = False
) -> tuple[str, Blocks]:
    """The personal share link; with `connectable` (the install can post to this network for the member)
    a Connect button too, so next time one click is enough."""
    name = t(lang, f"network_{network}")
    intro = t(lang, "share_link_intro" if caption else "share_link_no_caption", network=name)
    body = intro + ("\n" + quote(caption) if caption else "")
    url = share_intent_url(network, link=link, caption=caption)
    blocks: Blocks = [
        section(body),
        {
            "type": "actions",
            "block_id": f"share:{post_id}:{network}",
            "elements": [
                button(
                    t(lang, "open_network", network=name),
                    OPEN_ACTIONS[network],
                    value=f"{post_id}:{network}",
                    url=url,
                    style="primary",
                ),
            ],
        },
    ]
    if connectable:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": t(lang, "share_connect_hint", network=name)},
                "accessory": connect_button(lang, network),
            }
        )
    return t(lang, "share_link_fallback", network=name, link=link), blocks
