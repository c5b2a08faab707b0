"""What `/relais mydata` answers: a short readable summary of what Relais holds about the member, where
the whole file went, and the button that downloads it in a browser. Plain data in, a neutral message out."""

from __future__ import annotations

from typing import Final, Literal

from bot.messages.model import Action, Actions, Facts, Inline, Message, Note, Section, Text, text
from bot.services.mydata import Counts

# The download button: a URL button (Slack still sends its click, acked and ignored).
OPEN_ACTION: Final = "mydata_open"

# Where the file went: sent privately, not sent (it failed: a retry may work), refused (the platform
# will take no file until an admin acts), or the platform sends no file (the download button is the way).
Delivery = Literal["sent", "failed", "refused", "download"]


def summary(lang: str, counts: Counts, *, delivery: Delivery, file_name: str, download_url: str) -> Message:
    """The summary; `download_url` is `PUBLIC_URL/me/data` (the member signs in, then gets the same file)."""
    lead: Text = {
        "sent": text(lang, "mydata_sent", file=file_name),
        "failed": text(lang, "mydata_not_sent"),
        "refused": text(lang, "mydata_not_sendable"),
        "download": text(lang, "mydata_download_lead"),
    }[delivery]
    figures: tuple[tuple[Inline, Inline], ...] = (
        (text(lang, "mydata_shares"), str(counts.shares)),
        (text(lang, "mydata_clicks"), str(counts.clicks)),
        (text(lang, "mydata_links"), str(counts.links)),
        (text(lang, "mydata_not_for_me"), str(counts.not_for_me)),
        (text(lang, "mydata_messages"), str(counts.messages)),
        (text(lang, "mydata_suggestions"), str(counts.suggestions)),
        (text(lang, "mydata_connections"), str(counts.connections)),
    )
    button = Action(
        OPEN_ACTION,
        text(lang, "mydata_download"),
        url=download_url,
        style="primary" if delivery != "sent" else None,
    )
    return Message(
        lead,
        (Section(lead), Facts(figures), Actions((button,)), Note(text(lang, "mydata_note"))),
    )


def file_comment(lang: str) -> Text:
    """What the message carrying the file says."""
    return text(lang, "mydata_file_comment")
