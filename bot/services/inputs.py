"""What people type, read once for every command and form: ids, bounded whole numbers, picker values and
free text. Each reader refuses with an `InputError` naming an i18n message, so a caller shows a clear
answer in the member's language instead of passing a number SQLite cannot hold or a character
PostgreSQL cannot store."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Final

# The largest id a BIGINT (PostgreSQL) or INTEGER (SQLite) column holds; a longer number is no id of ours.
MAX_ID: Final = 2**63 - 1
# ASCII digits only: int() also reads "１２" or "١٢" as 12, which nobody typing a post number means.
_ID: Final = re.compile(r"#?([1-9][0-9]{0,18})", re.ASCII)
_WHOLE: Final = re.compile(r"[0-9]{1,9}", re.ASCII)
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# Seconds since 1970 that a date picker can mean: years 2000 to 2999, far wider than any bound callers set.
_FIRST_STAMP: Final = 946_684_800
_LAST_STAMP: Final = 32_503_680_000
# Line breaks and tabs are text; every other control character (NUL above all: PostgreSQL refuses it in
# text) and lone surrogates (not encodable as UTF-8) are not.
_TEXT_CONTROLS: Final = frozenset("\n\t\r")


class InputError(ValueError):
    """Input refused; `code` names the i18n message and `params` fill it."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def parse_id(text: str) -> int | None:
    """A post or suggestion number as typed ("12" or "#12") or carried by a button; None if it is not
    one of ours (other scripts' digits, signs, spaces, or beyond BIGINT)."""
    match = _ID.fullmatch(text)
    if match is None:
        return None
    value = int(match[1])
    return value if value <= MAX_ID else None


def parse_whole(text: str, *, low: int, high: int) -> int | None:
    """A whole number in [low, high] written in ASCII digits; None otherwise."""
    if _WHOLE.fullmatch(text) is None:
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_stamp(value: object) -> datetime | None:
    """A date-time picker's value (seconds since 1970, as a number or digits) as an aware UTC datetime;
    None for anything else, including instants no calendar bound could accept."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value, re.ASCII):
        value = int(value)
    if not isinstance(value, int) or not _FIRST_STAMP <= value <= _LAST_STAMP:
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def parse_date(value: object) -> date | None:
    """A date picker's value ("2026-12-31"); None for anything else."""
    if not isinstance(value, str) or _ISO_DATE.fullmatch(value) is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def check_text(text: str, *, limit: int) -> str:
    """Free text as it will be stored: at most `limit` characters, no control characters but line breaks
    and tabs, no lone surrogates. Format characters (zero-width joiners in emoji, right-to-left marks)
    are text and stay."""
    if len(text) > limit:
        raise InputError("text_too_long", limit=limit, length=len(text))
    if has_control_characters(text):
        raise InputError("text_control_characters")
    return text


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a character no stored text may: see `check_text`."""
    return any(
        character not in _TEXT_CONTROLS and unicodedata.category(character) in ("Cc", "Cs")
        for character in text
    )
