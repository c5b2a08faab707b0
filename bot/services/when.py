"""Read the “when” admins type (“demain 9h”, “fri 5pm”, “in 2 hours”), in English or French, in their zone."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WhenErrorCode = Literal["unrecognised", "past", "bad_time", "bad_date", "bad_timezone", "too_far"]

# A bare date means the start of the working day, not midnight: nobody wants a post to go out at 00:00.
DEFAULT_TIME: Final = time(9, 0)
# Typing "today 10:00" at 10:00:20 means "now", not "refuse".
GRACE: Final = timedelta(seconds=60)
# Anything further is almost certainly a typo in the year.
HORIZON: Final = timedelta(days=366)
# An expiry date is a whole day in the admin's zone, at most about a year after the publication.
EXPIRY_HORIZON: Final = HORIZON + timedelta(days=2)

WEEKDAYS: Final[Mapping[str, int]] = {
    "monday": 0, "mon": 0, "lundi": 0, "lun": 0,
    "tuesday": 1, "tue": 1, "tues": 1, "mardi": 1, "mar": 1,
    "wednesday": 2, "wed": 2, "mercredi": 2, "mer": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "jeudi": 3, "jeu": 3,
    "friday": 4, "fri": 4, "vendredi": 4, "ven": 4,
    "saturday": 5, "sat": 5, "samedi": 5, "sam": 5,
    "sunday": 6, "sun": 6, "dimanche": 6, "dim": 6,
}  # fmt: skip
# Full names only take a plural ("mondays", "lundis"): "mar" + "s" is French for March.
_FULL_WEEKDAYS: Final = frozenset(name for name in WEEKDAYS if len(name) > 5)

RELATIVE_DAYS: Final[Mapping[str, int]] = {
    "today": 0, "tomorrow": 1, "day after tomorrow": 2,
    "aujourd'hui": 0, "aujourdhui": 0, "demain": 1, "après-demain": 2, "après demain": 2, "apres-demain": 2,
    "apres demain": 2,
}  # fmt: skip

_NAMED_CLOCKS: Final[Mapping[str, time]] = {
    "noon": time(12), "midday": time(12), "midi": time(12), "midnight": time(0), "minuit": time(0),
}  # fmt: skip
_NOW_WORDS: Final = frozenset({"now", "right now", "maintenant"})

# Hours and minutes are elapsed time; days and weeks are calendar time (same wall clock, DST or not).
_UNITS: Final[Mapping[str, timedelta]] = {
    word: unit
    for unit, words in (
        (timedelta(minutes=1), ("minutes", "minute", "mins", "min", "m")),
        (timedelta(hours=1), ("hours", "hour", "hrs", "hr", "h", "heures", "heure")),
        (timedelta(days=1), ("days", "day", "d", "jours", "jour", "j")),
        (timedelta(weeks=1), ("weeks", "week", "wk", "w", "semaines", "semaine", "sem")),
    )
    for word in words
}
_ONE: Final = frozenset({"a", "an", "one", "un", "une"})

# Words after which the rest of a slash command may be a when. "le" must introduce a day: "lisez le 3"
# is "read the 3rd", not "read, at 03:00".
_SPLIT_KEYWORDS: Final[Mapping[str, bool]] = {"at": False, "à": False, "@": False, "le": True}


def _alternation(words: Iterable[str]) -> str:
    """Longest first, so that "mardi" is not read as "mar" followed by garbage."""
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_END: Final = r"(?=$|[\s,@])"
_CLOCK_RE: Final = re.compile(
    rf"""
    (?:
        (?P<hour>\d{{1,2}})
        (?:
            :(?P<minute>\d{{2}})(?::(?P<second>\d{{2}}))?
          | \s?(?P<h>h)\s?(?P<hminute>\d{{2}})?
        )?
        (?:\s?(?P<meridiem>[ap])\.?m\.?)?
      | (?P<named>{_alternation(_NAMED_CLOCKS)})
    ){_END}
    """,
    re.VERBOSE,
)
_DATE_RE: Final = re.compile(
    rf"""
    (?:
        (?P<iso_year>\d{{4}})-(?P<iso_month>\d{{1,2}})-(?P<iso_day>\d{{1,2}})
      | (?P<day>\d{{1,2}})(?P<sep>[/.-])(?P<month>\d{{1,2}})(?:(?P=sep)(?P<year>\d{{4}}|\d{{2}}))?
      | (?P<relative>{_alternation(RELATIVE_DAYS)})
      | (?P<weekday>{_alternation(WEEKDAYS)})\.?
    ){_END}
    """,
    re.VERBOSE,
)
_AFTER_RE: Final = re.compile(
    rf"(?:in|dans)\s(?P<count>\d{{1,6}}|{_alternation(_ONE)})\s?(?P<unit>{_alternation(_UNITS)})"
)
_ISO_T_RE: Final = re.compile(r"(\d{4}-\d{1,2}-\d{1,2})t(?=\d)")
_LEAD_RE: Final = re.compile(r"(?:(?:on|le)\s)?")
_BEFORE_CLOCK_RE: Final = re.compile(r"[\s,]*(?:(?:at|à|a|vers)\s|@\s?)?")
_BEFORE_DAY_RE: Final = re.compile(r"[\s,]*(?:(?:on|le)\s)?")


class WhenError(ValueError):
    """Carries a machine-readable `code` ("unrecognised", "past", "bad_time", "bad_date", "bad_timezone",
    "too_far") and the original text, so the caller can show a translated message."""

    def __init__(self, code: WhenErrorCode, text: str) -> None:
        super().__init__(f"{code}: {text!r}")
        self.code: WhenErrorCode = code
        self.text = text


@dataclass(frozen=True, slots=True)
class _Now:
    pass


@dataclass(frozen=True, slots=True)
class _After:
    elapsed: timedelta  # hours and minutes
    days: int  # days and weeks, counted on the calendar


@dataclass(frozen=True, slots=True)
class _DayMonth:
    """A date without a year: the next one, this year or the next."""

    day: int
    month: int


_Day = date | _DayMonth | int  # int: days from today


@dataclass(frozen=True, slots=True)
class _Weekday:
    weekday: int


@dataclass(frozen=True, slots=True)
class _At:
    day: _Day | _Weekday | None  # None: the next time the clock shows `clock`
    clock: time | None  # None: DEFAULT_TIME


_Spec = _Now | _After | _At


def parse_when(text: str, *, now: datetime, tz: str) -> datetime:
    """Turn an admin's "when" into an aware UTC datetime, or a WhenError saying what is wrong with it.

    `now` is injected (aware, any zone) so that tests and replays decide what "tomorrow" means; `tz` is the
    admin's IANA zone, in which dates and clock times are read. A local time that does not exist (DST
    spring-forward) moves forward by the gap; an ambiguous one (fall-back) is its first occurrence."""
    if now.utcoffset() is None:
        raise ValueError("parse_when needs an aware `now`")
    # Arithmetic on a datetime in a ZoneInfo zone is wall-clock arithmetic ("now + 72 hours" would ignore a
    # DST change in between): do it in UTC.
    now = now.astimezone(UTC)
    zone = _zone(tz, text=text)
    spec = _parse(text)
    try:
        result = _resolve(spec, now=now, zone=zone, text=text)
    except OverflowError as error:  # "in 999999 weeks" runs off the calendar
        raise WhenError("too_far", text) from error
    return within_horizon(result, now=now, text=text)


def within_horizon(at: datetime, *, now: datetime, text: str) -> datetime:
    """`at`, if a publication may be set then: not past (but for GRACE) and at most HORIZON ahead. The
    one bound for a time typed after `at` and one picked in a form."""
    if at < now - GRACE:
        raise WhenError("past", text)
    if at - now > HORIZON:
        raise WhenError("too_far", text)
    return at


def end_of_day(day: date, *, zone: ZoneInfo, after: datetime) -> datetime:
    """When an expiry date ends: the midnight after `day` in `zone`, in UTC. It must come after `after`
    (the publication: else "past") and within EXPIRY_HORIZON of it ("too_far"), which is checked on the
    calendar first, so that 9999-12-31 is refused rather than overflowing."""
    text = day.isoformat()
    if day - after.astimezone(zone).date() > EXPIRY_HORIZON:
        raise WhenError("too_far", text)
    end = _utc(day + timedelta(days=1), time.min, zone=zone)
    if end <= after:
        raise WhenError("past", text)
    if end - after > EXPIRY_HORIZON:
        raise WhenError("too_far", text)
    return end


def parse_weekday(text: str) -> int:
    """The weekday of a weekly schedule ("tue", "mardi", "mondays"), Monday=0, as `date.weekday()` counts."""
    word = _normalise(text).rstrip(".")
    if word in WEEKDAYS:
        return WEEKDAYS[word]
    if word.endswith("s") and word[:-1] in _FULL_WEEKDAYS:
        return WEEKDAYS[word[:-1]]
    raise WhenError("unrecognised", text)


def parse_clock(text: str) -> time:
    """A time of day alone ("10:00", "10h", "9am", "21h30"), for weekly schedules that have no date."""
    match = _CLOCK_RE.fullmatch(_normalise(text))
    if match is None:
        raise WhenError("unrecognised", text)
    return _clock(match, text=text)


def split_trailing_when(words: list[str]) -> tuple[list[str], str | None]:
    """Separate a caption from a trailing "at <when>" / "à <when>" / "le <when>" in a slash command.

    The first keyword whose whole remainder reads as a when wins: that keeps "tomorrow at 9am" and
    "1/12 à 9h" whole, and leaves "Meet us at the fair" alone because "the fair" is no time. The check is
    syntactic only, so a date that is past or malformed ("at 25:00") is still split off, and the admin
    hears what is wrong with it instead of seeing it posted as caption."""
    for index, word in enumerate(words):
        needs_day = _SPLIT_KEYWORDS.get(_normalise(word))
        if needs_day is None or index == len(words) - 1:
            continue
        when = " ".join(words[index + 1 :])
        if _reads_as_when(when, needs_day=needs_day):
            return words[:index], when
    return list(words), None


def _reads_as_when(text: str, *, needs_day: bool) -> bool:
    try:
        spec = _parse(text)
    except WhenError as error:
        return error.code == "bad_date" or (error.code == "bad_time" and not needs_day)
    return not needs_day or (isinstance(spec, _At) and spec.day is not None)


def _normalise(text: str) -> str:
    """One spelling per meaning: lower case, composed accents, straight apostrophes, single spaces."""
    folded = unicodedata.normalize("NFC", text).lower().replace("’", "'").replace("‘", "'")
    folded = " ".join(folded.split()).rstrip(".!").strip()
    return _ISO_T_RE.sub(r"\1 ", folded)


def _zone(tz: str, *, text: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise WhenError("bad_timezone", text) from error


def _parse(text: str) -> _Spec:
    """What the text says, before knowing when "now" is: grammar, and the checks that need no calendar."""
    words = _normalise(text)
    if words in _NOW_WORDS:
        return _Now()
    if after := _AFTER_RE.fullmatch(words):
        count = 1 if after["count"] in _ONE else int(after["count"])
        unit = _UNITS[after["unit"]]
        if unit >= timedelta(days=1):
            return _After(elapsed=timedelta(0), days=count * unit.days)
        return _After(elapsed=count * unit, days=0)
    words = _skip(_LEAD_RE, words)
    if day_match := _DATE_RE.match(words):  # day first: "demain 9h", "2026-12-01 09:00", "lundi à 9h"
        rest = words[day_match.end() :]
        clock_text = _skip(_BEFORE_CLOCK_RE, rest)
        if not clock_text:
            if rest.strip(" ,@"):  # a dangling connector: "demain à"
                raise WhenError("unrecognised", text)
            return _At(day=_day(day_match, text=text), clock=None)
        clock_match = _CLOCK_RE.fullmatch(clock_text)
        if clock_match is None:
            raise WhenError("unrecognised", text)
        return _At(day=_day(day_match, text=text), clock=_clock(clock_match, text=text))
    if clock_match := _CLOCK_RE.match(words):  # clock first: "9am tomorrow", "17h demain", "9:00"
        rest = words[clock_match.end() :]
        day_text = _skip(_BEFORE_DAY_RE, rest)
        if not day_text:
            if rest.strip(" ,@"):
                raise WhenError("unrecognised", text)
            return _At(day=None, clock=_clock(clock_match, text=text))
        day_match = _DATE_RE.fullmatch(day_text)
        if day_match is None:
            raise WhenError("unrecognised", text)
        return _At(day=_day(day_match, text=text), clock=_clock(clock_match, text=text))
    raise WhenError("unrecognised", text)


def _skip(pattern: re.Pattern[str], text: str) -> str:
    """`text` without the connector words `pattern` matches at its start (it always matches, maybe empty)."""
    match = pattern.match(text)
    return text[match.end() :] if match else text


def _clock(match: re.Match[str], *, text: str) -> time:
    if match["named"]:
        return _NAMED_CLOCKS[match["named"]]
    hour = int(match["hour"])
    minute = int(match["minute"] or match["hminute"] or 0)
    second = int(match["second"] or 0)
    if match["meridiem"]:
        if match["h"]:  # "9ham": two clocks at once
            raise WhenError("unrecognised", text)
        if not 1 <= hour <= 12:
            raise WhenError("bad_time", text)
        hour = hour % 12 + (12 if match["meridiem"] == "p" else 0)
    elif not (match["minute"] or match["h"]) and hour > 23:
        raise WhenError("unrecognised", text)  # a bare "42" is a number, not a time
    if hour > 23 or minute > 59 or second > 59:
        raise WhenError("bad_time", text)
    return time(hour, minute, second)


def _day(match: re.Match[str], *, text: str) -> _Day | _Weekday:
    if match["relative"]:
        return RELATIVE_DAYS[match["relative"]]
    if match["weekday"]:
        return _Weekday(WEEKDAYS[match["weekday"]])
    if match["iso_year"]:
        return _date(int(match["iso_year"]), int(match["iso_month"]), int(match["iso_day"]), text=text)
    day, month = int(match["day"]), int(match["month"])
    if match["year"]:
        year = int(match["year"])
        return _date(year + 2000 if year < 100 else year, month, day, text=text)
    if match["sep"] != "/":  # "9.30" and "1-12" are too ambiguous without a year
        raise WhenError("unrecognised", text)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise WhenError("bad_date", text)
    return _DayMonth(day=day, month=month)


def _date(year: int, month: int, day: int, *, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError as error:
        raise WhenError("bad_date", text) from error


def _resolve(spec: _Spec, *, now: datetime, zone: ZoneInfo, text: str) -> datetime:
    """The instant `spec` names, given `now` in UTC."""
    if isinstance(spec, _Now):
        return now
    local_now = now.astimezone(zone)
    today = local_now.date()
    if isinstance(spec, _After):
        if spec.days:
            return _utc(today + timedelta(days=spec.days), local_now.time(), zone=zone)
        return now + spec.elapsed
    clock = DEFAULT_TIME if spec.clock is None else spec.clock
    day = spec.day
    if day is None or isinstance(day, _Weekday):
        # The next time it is `clock` (on that weekday): today if that is still ahead, else a day/week later.
        ahead = 0 if day is None else (day.weekday - today.weekday()) % 7
        result = _utc(today + timedelta(days=ahead), clock, zone=zone)
        if result < now - GRACE:
            result = _utc(today + timedelta(days=ahead or (1 if day is None else 7)), clock, zone=zone)
        return result
    if isinstance(day, int):
        return _utc(today + timedelta(days=day), clock, zone=zone)
    if isinstance(day, _DayMonth):
        return _utc(_next_day_month(day, today=today, text=text), clock, zone=zone)
    return _utc(day, clock, zone=zone)


def _next_day_month(day: _DayMonth, *, today: date, text: str) -> date:
    """This year's, unless that day is already behind us (then next year's); "29/2" waits for a leap year."""
    passed = False
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, day.month, day.day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
        passed = True
    raise WhenError("past" if passed else "bad_date", text)


def _utc(day: date, clock: time, *, zone: ZoneInfo) -> datetime:
    # fold=0 is what we want on both DST edges: in a fall-back overlap it is the first occurrence, and in a
    # spring-forward gap it is read with the pre-transition offset, which lands the gap's length later.
    return datetime.combine(day, clock.replace(fold=0), tzinfo=zone).astimezone(UTC)
