"""The catalogues' neutral markup as Slack mrkdwn: `**bold**` is `*bold*` in Slack; the rest of the
subset (`_italic_`, `` `code` ``, bullets, Unicode emoji) reads the same; a command is the slash
command (`/relais help`)."""

from __future__ import annotations

import re
from functools import cache

from bot.i18n import spoken, template

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
# How a Slack member calls Relais, before each command a text names (`bot.i18n.COMMAND`).
COMMAND = "/relais "


def mrkdwn(neutral: str) -> str:
    """Neutral markup (trusted text: a catalogue template, never someone's input) as mrkdwn."""
    return _BOLD.sub(r"*\1*", neutral)


@cache
def _slack_template(lang: str, key: str) -> str:
    return mrkdwn(template(lang, key, command=COMMAND))


def t(lang: str, key: str, /, **params: object) -> str:
    """The message `key` in `lang` as Slack mrkdwn, formatted with `params` (already mrkdwn: the
    template is converted before the parameters go in, so typed text is never read as markup). Cached
    per language Relais speaks (`bot.i18n.spoken`), so an odd language cannot grow the cache."""
    return _slack_template(spoken(lang), key).format(**params)
