"""A post as members see it: its card in a channel (preview, suggested caption, the share buttons) and the
personal share link a click on a share button gives a member who has not connected the network."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlencode

from bot.messages.model import (
    Action,
    Actions,
    Image,
    Inline,
    Link,
    Message,
    Note,
    Part,
    Quote,
    Section,
    Strong,
    lines,
    text,
)
from bot.services.posts import PostCard

# The ids a click on a post's buttons comes back with (the adapters route them to the share flow).
SHARE_ACTIONS: Final = {"linkedin": "share_linkedin", "x": "share_x"}
EDIT_SHARE_ACTION: Final = "edit_share"
NOT_FOR_ME_ACTION: Final = "not_for_me"
OPEN_SHARE_ACTIONS: Final = {"linkedin": "open_share_linkedin", "x": "open_share_x"}
NETWORK_ORDER: Final = ("linkedin", "x")
TITLE_LENGTH: Final = 200
DESCRIPTION_LENGTH: Final = 500
# The longest button URL a chat platform takes (Slack refuses more than 3,000 characters).
MAX_BUTTON_URL: Final = 3000


def clip(typed: str, limit: int) -> str:
    """Typed text shortened to at most `limit` characters, with an ellipsis when shortened. (Each renderer
    escapes it afterwards, so no markup can be cut in two here.)"""
    if len(typed) <= limit:
        return typed
    return typed[: max(limit - 1, 0)].rstrip() + "…"


def network_name(lang: str, network: str) -> Inline:
    return text(lang, f"network_{network}")


def post_actions_id(post_id: int) -> str:
    """The id of a post's row of buttons: a click says which post it came from."""
    return f"post:{post_id}"


def post_card(
    card: PostCard, lang: str, *, shared: frozenset[str] = frozenset(), dismissed: bool = False
) -> Message:
    """The channel message of a post. A withdrawn or expired post keeps its preview and says so, without
    buttons; a live one offers a share button per network (the first one primary: one primary button a
    row), Edit & share and Not for me.

    `shared`: the networks the member it is shown to has shared it on (their reminder, kept true): each
    says "✓ Shared on …" in place of its button. Edit & share stays while a network is left to share on;
    Not for me goes (the post already left their reminders by the share); all shared, no button is left.
    `dismissed`: they said it is not for them: noted so, with no button."""
    title = card.title or card.url
    summary = text(lang, "post_fallback", title=clip(title, TITLE_LENGTH), url=card.url)
    headline: Inline = Strong(Link(card.url, clip(title, TITLE_LENGTH)))
    body = lines(headline, clip(card.description, DESCRIPTION_LENGTH)) if card.description else headline
    image = Image(card.image_url, title) if card.image_url else None
    parts: list[Part] = [Section(body, image=image)]
    if card.caption:
        parts.append(Note(text(lang, "suggested_caption", caption=card.caption)))
    if card.state in ("cancelled", "expired"):
        parts.append(Note(text(lang, f"post_{card.state}_note")))
        return Message(summary, tuple(parts))
    done = [network for network in NETWORK_ORDER if network in shared]
    if done:
        parts.append(
            Note(lines(*(text(lang, "post_shared_on", network=network_name(lang, n)) for n in done)))
        )
    if dismissed:
        parts.append(Note(text(lang, "not_for_me_noted")))
    value = str(card.id)
    shares = [network for network in NETWORK_ORDER if network in card.networks and network not in shared]
    if dismissed or (done and not shares):
        return Message(summary, tuple(parts))
    buttons = [
        Action(
            SHARE_ACTIONS[network],
            text(lang, f"share_on_{network}"),
            value=value,
            style="primary" if index == 0 else None,
        )
        for index, network in enumerate(shares)
    ]
    buttons.append(Action(EDIT_SHARE_ACTION, text(lang, "edit_and_share"), value=value))
    if not done:
        buttons.append(Action(NOT_FOR_ME_ACTION, text(lang, "not_for_me"), value=value))
    parts.append(Actions(tuple(buttons), id=post_actions_id(card.id)))
    return Message(summary, tuple(parts))


def share_intent_url(network: str, *, link: str, caption: str | None) -> str:
    """LinkedIn's share-offsite page takes only the URL; X's intent takes the text and the URL."""
    if network == "linkedin":
        return "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": link})
    with_text = "https://x.com/intent/tweet?" + urlencode(
        {"text": caption, "url": link} if caption else {"url": link}
    )
    if len(with_text) <= MAX_BUTTON_URL:
        return with_text
    # Too long for a button: the caption stays in the message, to copy.
    return "https://x.com/intent/tweet?" + urlencode({"url": link})


def connect_action(lang: str, network: str, *, again: bool = False) -> Action:
    """Connect (or Reconnect) a network: the click asks for a fresh personal connect link."""
    key = "reconnect_network" if again else "connect_network"
    return Action(f"connect_{network}", text(lang, key, network=network_name(lang, network)), value=network)


def share_link(
    *,
    network: str,
    post_id: int,
    link: str,
    caption: str | None,
    lang: str,
    connectable: bool = False,
    opens: str | None = None,
) -> Message:
    """The personal share link, with the member's caption to copy; with `connectable` (this Relais can
    post to the network for the member) a Connect button too, so next time one click is enough.

    The button opens the network's share page, and its click tells the platform's adapter to count the
    share (Slack). On a platform whose link buttons tell the bot nothing (Teams), `opens` is the member's
    Relais share link (`PUBLIC_URL/s/<code>`, `bot.flows.share_links`), which counts the share and then
    sends them to that page."""
    name = network_name(lang, network)
    intro = text(lang, "share_link_intro" if caption else "share_link_no_caption", network=name)
    body: Inline = lines(intro, Quote(caption)) if caption else intro
    parts: list[Part] = [
        Section(body),
        Actions(
            (
                Action(
                    OPEN_SHARE_ACTIONS[network],
                    text(lang, "open_network", network=name),
                    value=f"{post_id}:{network}",
                    url=opens or share_intent_url(network, link=link, caption=caption),
                    style="primary",
                ),
            ),
            id=f"share:{post_id}:{network}",
        ),
    ]
    if connectable:
        parts.append(
            Section(text(lang, "share_connect_hint", network=name), action=connect_action(lang, network))
        )
    return Message(text(lang, "share_link_fallback", network=name, link=link), tuple(parts))
