"""Message catalogues: every user-facing text exists in English and French.

`t(lang, key, **params)` formats a message with `str.format`. The texts are neutral: the only markup
is a Markdown subset every chat platform's renderer knows how to show (`**bold**`, `_italic_`,
`` `code` ``, `• ` bullets), emoji are Unicode characters, and no text names a chat platform; each
platform's adapter turns that markup into its own (Slack: `handlers.slack.text`). The member's language is their own
choice (the command `lang`) when set, else their chat locale (`fr-FR` → French), else English.

A text naming one of Relais's commands writes `{{relais}} ` (`COMMAND`) where the way to call Relais
goes: `` `{{relais}} help points` ``. Each platform fills it with how its people call Relais (`template`'s
`command`): Slack `/relais ` (the slash command), Teams nothing (commands are typed to Relais in one's
chat with it, where Relais answers them). The neutral texts (`t`, `bot.messages.plain_text`) name a
command bare, as Teams does: it is the command's own word, with no platform's way of calling it.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from bot.i18n import en, fr

Language = Literal["en", "fr"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
DEFAULT_LANGUAGE: Final[Language] = "en"
# Where a text names a command, the way to call Relais (see the module docstring). Not a `str.format`
# field: a text is filled before it is formatted, so parameters never carry it.
COMMAND: Final = "{{relais}} "
NEUTRAL_COMMAND: Final = ""

CATALOGUES: Final[dict[Language, dict[str, str]]] = {"en": en.MESSAGES, "fr": fr.MESSAGES}


def language_for(*, chosen: str | None = None, locale: str | None = None) -> Language:
    for candidate in (chosen, locale):
        if candidate:
            prefix = candidate.replace("_", "-").split("-", 1)[0].lower()
            for language in LANGUAGES:
                if prefix == language:
                    return language
    return DEFAULT_LANGUAGE


def parse_language(text: str) -> Language | None:
    """`fr`, `FR`, `français`, `english`… → a supported language, or None."""
    word = text.strip().lower()
    aliases = {
        "en": "en",
        "english": "en",
        "anglais": "en",
        "fr": "fr",
        "french": "fr",
        "français": "fr",
        "francais": "fr",
    }
    found = aliases.get(word)
    return "fr" if found == "fr" else "en" if found == "en" else None


def spoken(lang: str) -> Language:
    """The catalogue a text in `lang` comes from: `lang` when Relais speaks it, else English."""
    for language in LANGUAGES:
        if lang == language:
            return language
    return DEFAULT_LANGUAGE


def template(lang: str, key: str, /, *, command: str = NEUTRAL_COMMAND) -> str:
    """The message `key` in `lang` (English if `lang` is not supported), unformatted, each command named
    with `command` before it (a platform's way of calling Relais: Slack's `/relais `)."""
    return CATALOGUES[spoken(lang)][key].replace(COMMAND, command)


def t(lang: str, key: str, /, **params: object) -> str:
    """The message `key` in `lang`, formatted with `params`, in the catalogues' neutral markup."""
    return template(lang, key).format(**params)


def url_reason(lang: str, *, code: str, detail: str) -> str:
    """Why a link was refused: the validator's precise English wording, or a translated summary."""
    if lang == DEFAULT_LANGUAGE:
        return detail
    key = f"url_reason_{code}"
    return t(lang, key if key in CATALOGUES[DEFAULT_LANGUAGE] else "url_reason_invalid_url")
