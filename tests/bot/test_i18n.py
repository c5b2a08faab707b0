"""Both catalogues say the same things: same keys, same placeholders."""

from __future__ import annotations

import re
from string import Formatter

import pytest

from bot.i18n import CATALOGUES, COMMAND, language_for, parse_language, spoken, t, template


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    english, french = CATALOGUES["en"], CATALOGUES["fr"]
    assert set(english) == set(french)
    for key in english:
        assert _placeholders(english[key]) == _placeholders(french[key]), key
        assert english[key] != french[key] or key.startswith("network_") or key == "home_title", key


@pytest.mark.parametrize(
    ("chosen", "locale", "expected"),
    [(None, "fr-FR", "fr"), (None, "fr_CA", "fr"), (None, "en-GB", "en"), (None, "de-DE", "en"),
     ("en", "fr-FR", "en"), ("fr", None, "fr"), (None, None, "en")],
)  # fmt: skip
def test_language_comes_from_the_choice_then_the_locale(
    chosen: str | None, locale: str | None, expected: str
) -> None:
    assert language_for(chosen=chosen, locale=locale) == expected


def test_parse_language_and_unknown_language_falls_back_to_english() -> None:
    assert parse_language("FR") == "fr"
    assert parse_language("français") == "fr"
    assert parse_language("klingon") is None
    assert t("de", "resumed") == t("en", "resumed")
    assert (spoken("de"), spoken("fr"), spoken("en")) == ("en", "fr", "en")  # what every renderer asks
    assert (
        t("fr", "queued_now", id=3, channels="#news")
        == "La publication n°3 est en cours de publication dans #news. "
        "Je vous préviendrai si un canal la refuse."
    )


def test_catalogues_are_neutral_markup_any_platform_can_render() -> None:
    """No Slack mrkdwn (`*bold*`, `<url|label>`, `<@U…>`), no `:emoji:` codes, no platform's name: each
    platform's renderer turns the Markdown subset into its own markup."""
    for language, catalogue in CATALOGUES.items():
        for key, text in catalogue.items():
            where = f"{language}:{key}"
            assert not re.search(r"(?<![*\w])\*[^*\s][^*]*\*(?!\*)", text.replace("**", "")), where
            assert not re.search(r":[a-z0-9_+-]+:", text), where
            assert not re.search(r"<[@#!]|<https?:", text), where
            assert "Slack" not in text, where
            assert "Teams" not in text, where
            # A command is named after COMMAND, which each platform fills (Slack's `/relais `).
            assert "/relais" not in text, where
            assert text.replace(COMMAND, "").count("{{") == 0, where


def test_a_command_is_named_as_each_platform_calls_relais() -> None:
    assert template("en", "not_admin") == (
        "Only Relais admins can use `{command}`. Ask a workspace admin if you need it."
    )
    assert t("en", "nudge_footer") == "At most one reminder a week. `pause` or `optout` if you'd rather not."
    assert template("fr", "paused_until", command="/relais ") == (
        "Rappels en pause jusqu'au {date}. `/relais resume` pour les réactiver."
    )
