"""What an API post says: its text and its article card, and whether a caption fits LinkedIn's limit."""

from __future__ import annotations

from bot.services.commentary import MAX_COMMENTARY, commentary_length
from bot.social import Article
from models import Network, Post


def compose(caption: str | None, link: str, network: Network, *, title: str | None = None) -> str:
    """The post's text. On LinkedIn, the member's caption alone (or the article's title): the tracked link
    is the source of the article card under it (LinkedIn shows no card for a link in the text). On X, the
    caption and the tracked link, from which X draws its own card."""
    if network is Network.LINKEDIN:
        return caption or title or link
    return f"{caption} {link}" if caption else link


def linkedin_length(caption: str) -> int:
    """How long LinkedIn finds the commentary of an API post with this caption (escaped, hashtags as
    elements)."""
    return commentary_length(compose(caption, "", Network.LINKEDIN))


def caption_fits(caption: str) -> bool:
    """Whether an API post with this caption stays within LinkedIn's commentary limit once composed and
    escaped (X's limit is checked apart, link included). Checked when a post is queued, so a queued
    caption is never refused at share time for its length."""
    return linkedin_length(caption) <= MAX_COMMENTARY


def article_of(post: Post, link: str) -> Article:
    """The card of an API post: the member's tracked link, titled and described from the page's preview
    (LinkedIn requires a title: the page's address stands in for a missing one)."""
    return Article(source=link, title=post.title or post.url, description=post.description)
