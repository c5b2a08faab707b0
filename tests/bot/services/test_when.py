"""The when-parser: every form in both languages, in several zones, across DST, and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.services.when import WEEKDAYS, WhenError, parse_clock, parse_weekday, parse_when, split_trailing_when

ZONES = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"]


Wall = tuple[int, int, int, int, int]  # year, month, day, hour, minute


def local(tz: str, wall: Wall) -> datetime:
    """A wall-clock time in `tz`, as the aware UTC datetime parse_when should return."""
    year, month, day, hour, minute = wall
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def wednesday_10am(tz: str) -> datetime:
    """The fixed "now": Wednesday 2026-11-25 10:00 in `tz`, given in the zone itself."""
    return datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo(tz))


def parse(text: str, tz: str = "Europe/Paris", *, now: datetime | None = None) -> datetime:
    return parse_when(text, now=wednesday_10am(tz) if now is None else now, tz=tz)


def refusal(text: str, tz: str = "Europe/Paris", *, now: datetime | None = None) -> WhenError:
    with pytest.raises(WhenError) as caught:
        parse(text, tz, now=now)
    return caught.value


# (text, expected local wall time) with "now" = Wednesday 2026-11-25 10:00 local.
ACCEPTED: list[tuple[str, Wall]] = [
    # ISO-ish and day/month/year
    ("2026-12-01 09:00", (2026, 12, 1, 9, 0)),
    ("2026-12-01T09:00", (2026, 12, 1, 9, 0)),
    ("2026-12-01 9h30", (2026, 12, 1, 9, 30)),
    ("2026-12-01", (2026, 12, 1, 9, 0)),
    ("  2026-12-01    09:00 ", (2026, 12, 1, 9, 0)),
    ("01/12/2026 09:00", (2026, 12, 1, 9, 0)),
    ("1/12/26 14h", (2026, 12, 1, 14, 0)),
    ("1.12.2026 9:00", (2026, 12, 1, 9, 0)),
    ("1/12 9:00", (2026, 12, 1, 9, 0)),
    ("1/11 9:00", (2027, 11, 1, 9, 0)),  # 1 November has passed: next year's
    ("25/11 17h", (2026, 11, 25, 17, 0)),  # today counts as this year's
    ("le 1/12 à 9h", (2026, 12, 1, 9, 0)),
    ("2026-12-01 at 5pm", (2026, 12, 1, 17, 0)),
    # relative days
    ("today 17:00", (2026, 11, 25, 17, 0)),
    ("TODAY 17:00", (2026, 11, 25, 17, 0)),
    ("tomorrow 9:00", (2026, 11, 26, 9, 0)),
    ("tomorrow 9am", (2026, 11, 26, 9, 0)),
    ("tomorrow", (2026, 11, 26, 9, 0)),
    ("tomorrow at 5:30pm", (2026, 11, 26, 17, 30)),
    ("9am tomorrow", (2026, 11, 26, 9, 0)),
    ("day after tomorrow 8:15", (2026, 11, 27, 8, 15)),
    ("aujourd'hui 17h", (2026, 11, 25, 17, 0)),
    ("aujourd’hui 17h", (2026, 11, 25, 17, 0)),
    ("Aujourd'hui à 17h30", (2026, 11, 25, 17, 30)),
    ("demain 9h", (2026, 11, 26, 9, 0)),
    ("demain 9h30", (2026, 11, 26, 9, 30)),
    ("demain", (2026, 11, 26, 9, 0)),
    ("demain à 14h", (2026, 11, 26, 14, 0)),
    ("demain midi", (2026, 11, 26, 12, 0)),
    ("17h demain", (2026, 11, 26, 17, 0)),
    ("après-demain 10h", (2026, 11, 27, 10, 0)),
    # weekdays (today is Wednesday)
    ("mon 9am", (2026, 11, 30, 9, 0)),
    ("monday 9:00", (2026, 11, 30, 9, 0)),
    ("on Monday at 9:00", (2026, 11, 30, 9, 0)),
    ("tue 14:30", (2026, 12, 1, 14, 30)),
    ("friday", (2026, 11, 27, 9, 0)),
    ("lun 9h", (2026, 11, 30, 9, 0)),
    ("lun. 9h", (2026, 11, 30, 9, 0)),
    ("lundi 9h", (2026, 11, 30, 9, 0)),
    ("mardi 14h30", (2026, 12, 1, 14, 30)),
    ("vendredi", (2026, 11, 27, 9, 0)),
    ("le jeudi à 8h", (2026, 11, 26, 8, 0)),
    ("sun 6pm", (2026, 11, 29, 18, 0)),
    ("dimanche 18h", (2026, 11, 29, 18, 0)),
    ("tuesday 9 h 45", (2026, 12, 1, 9, 45)),
    # the same weekday as today: today if the time is still ahead, else next week
    ("wed 11:00", (2026, 11, 25, 11, 0)),
    ("mercredi 18h", (2026, 11, 25, 18, 0)),
    ("wed 9:00", (2026, 12, 2, 9, 0)),
    ("mercredi 9h", (2026, 12, 2, 9, 0)),
    ("wednesday", (2026, 12, 2, 9, 0)),
    # times alone: today if still ahead, else tomorrow
    ("9:00", (2026, 11, 26, 9, 0)),
    ("09:00", (2026, 11, 26, 9, 0)),
    ("9", (2026, 11, 26, 9, 0)),
    ("11", (2026, 11, 25, 11, 0)),
    ("17h", (2026, 11, 25, 17, 0)),
    ("21h30", (2026, 11, 25, 21, 30)),
    ("9h", (2026, 11, 26, 9, 0)),
    ("5pm", (2026, 11, 25, 17, 0)),
    ("9:30pm", (2026, 11, 25, 21, 30)),
    ("9am", (2026, 11, 26, 9, 0)),
    ("9 a.m.", (2026, 11, 26, 9, 0)),
    ("12pm", (2026, 11, 25, 12, 0)),
    ("12am", (2026, 11, 26, 0, 0)),
    ("noon", (2026, 11, 25, 12, 0)),
    ("minuit", (2026, 11, 26, 0, 0)),
    ("10:00", (2026, 11, 25, 10, 0)),  # this very minute
    # relative
    ("in 2 hours", (2026, 11, 25, 12, 0)),
    ("in 30 minutes", (2026, 11, 25, 10, 30)),
    ("in 3 days", (2026, 11, 28, 10, 0)),
    ("in an hour", (2026, 11, 25, 11, 0)),
    ("in 2 weeks", (2026, 12, 9, 10, 0)),
    ("in 90min", (2026, 11, 25, 11, 30)),
    ("dans 2 heures", (2026, 11, 25, 12, 0)),
    ("dans 30 minutes", (2026, 11, 25, 10, 30)),
    ("dans 3 jours", (2026, 11, 28, 10, 0)),
    ("dans une heure", (2026, 11, 25, 11, 0)),
    ("dans 2h", (2026, 11, 25, 12, 0)),
    ("in 366 days", (2027, 11, 26, 10, 0)),  # the horizon itself is allowed
    # now
    ("now", (2026, 11, 25, 10, 0)),
    ("NOW", (2026, 11, 25, 10, 0)),
    ("maintenant", (2026, 11, 25, 10, 0)),
]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_forms_in_every_zone(text: str, expected: Wall, tz: str) -> None:
    result = parse(text, tz)

    assert result == local(tz, expected)
    assert result.utcoffset() == timedelta(0)
    assert result.tzinfo is UTC


def test_kolkata_half_hour_offset_is_applied() -> None:
    assert parse("tomorrow 9:00", "Asia/Kolkata") == datetime(2026, 11, 26, 3, 30, tzinfo=UTC)


def test_days_are_counted_in_the_admins_zone_not_in_nows() -> None:
    # 20:00 UTC on the 25th is already 01:30 on the 26th in Kolkata: "tomorrow" is the 27th there.
    now = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)

    assert parse("tomorrow 9:00", "Asia/Kolkata", now=now) == datetime(2026, 11, 27, 3, 30, tzinfo=UTC)
    assert parse("today 17h", "Asia/Kolkata", now=now) == datetime(2026, 11, 26, 11, 30, tzinfo=UTC)
    assert parse("tomorrow 9:00", "America/New_York", now=now) == datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


def test_now_keeps_seconds_and_comes_back_in_utc() -> None:
    now = datetime(2026, 11, 25, 10, 0, 42, 123, tzinfo=ZoneInfo("America/New_York"))

    assert parse("now", "Europe/Paris", now=now) == now
    assert parse("now", "Europe/Paris", now=now).tzinfo is UTC


# --- DST ---


def test_spring_forward_gap_moves_forward_by_the_gap() -> None:
    now = datetime(2027, 3, 20, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))

    result = parse("2027-03-28 02:30", now=now)

    assert result == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert result.astimezone(ZoneInfo("Europe/Paris")).timetz() == time(
        3, 30, tzinfo=ZoneInfo("Europe/Paris")
    )


def test_spring_forward_gap_in_new_york() -> None:
    now = datetime(2027, 3, 10, 10, 0, tzinfo=ZoneInfo("America/New_York"))

    assert parse("2027-03-14 02:30", "America/New_York", now=now) == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)


def test_time_alone_falls_in_the_gap_tomorrow() -> None:
    now = datetime(2027, 3, 27, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))

    assert parse("2:30", now=now) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_fall_back_overlap_takes_the_first_occurrence() -> None:
    now = datetime(2026, 10, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))

    result = parse("2026-10-25 02:30", now=now)

    assert result == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, not 02:30 CET (01:30 UTC)
    assert result.astimezone(ZoneInfo("Europe/Paris")).utcoffset() == timedelta(hours=2)


def test_days_keep_the_wall_clock_across_dst_but_hours_do_not() -> None:
    now = datetime(2027, 3, 26, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))  # Friday, CET

    assert parse("in 3 days", now=now) == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)  # 10:00 CEST
    assert parse("in 72 hours", now=now) == datetime(2027, 3, 29, 9, 0, tzinfo=UTC)  # 11:00 CEST
    assert parse("lundi 10h", now=now) == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)


# --- grace, past and horizon ---


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-24 09:00",
        "2025-12-01",
        "01/01/2026 09:00",
        "today 9:00",
        "aujourd'hui 9h",
        "today",  # a bare day means 09:00, gone by 10:00
        "25/11 9:00",  # today's date with a time already gone: not next year
        "1/1/26",
    ],
)
def test_past_is_refused(text: str) -> None:
    error = refusal(text)

    assert error.code == "past"
    assert error.text == text


def test_a_minute_of_grace() -> None:
    now = datetime(2026, 11, 25, 10, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))

    assert parse("today 10:00", now=now) == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert parse("10:00", now=now) == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert parse("wed 10:00", now=now) == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert refusal("today 9:59", now=now).code == "past"  # 90 seconds ago
    assert parse("9:59", now=now) == datetime(2026, 11, 26, 8, 59, tzinfo=UTC)  # so: tomorrow


def test_grace_is_counted_in_real_seconds_across_the_gap() -> None:
    # 03:00:30 CEST, just after the jump: a minute earlier on the wall clock (02:59:30) never existed.
    now = datetime(2027, 3, 28, 3, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))

    assert parse("today 3:00", now=now) == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert refusal("today 1:59", now=now).code == "past"


@pytest.mark.parametrize(
    "text",
    ["2028-01-01", "2027-11-27 10:00", "in 367 days", "dans 60 semaines", "in 999999 weeks", "in 9000 hours"],
)
def test_too_far_is_refused(text: str) -> None:
    assert refusal(text).code == "too_far"


@pytest.mark.parametrize(
    "tz", ["Mars/Olympus_Mons", "", "Europe", "../../etc/passwd", "zone.tab", "Europe/Nowhere"]
)
def test_bad_timezone(tz: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_when("tomorrow 9:00", now=wednesday_10am("UTC"), tz=tz)

    assert caught.value.code == "bad_timezone"
    assert caught.value.text == "tomorrow 9:00"


@pytest.mark.parametrize(
    "text",
    [
        "25:00",
        "9:75",
        "13pm",
        "0am",
        "24h",
        "tomorrow 25:00",
        "demain 24h",
        "2026-12-01 9:60",
        "lundi 13pm",
        "9:00:75",
    ],
)
def test_bad_time(text: str) -> None:
    assert refusal(text).code == "bad_time"


@pytest.mark.parametrize(
    "text",
    ["2026-02-30", "2026-02-30 09:00", "30/02/2027", "31/04 9:00", "29/2", "2026-13-01", "32/12", "1/13"],
)
def test_bad_date(text: str) -> None:
    assert refusal(text).code == "bad_date"


def test_february_29_waits_for_a_leap_year() -> None:
    now = datetime(2027, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))

    assert parse("29/2 9h", now=now) == datetime(2028, 2, 29, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "soon",
        "next week",
        "tomorrow-ish",
        "9:7",
        "demain à",
        "in two hours",
        "in 2 fortnights",
        "123",
        "25",  # a number, not a time
        "lundi 9h mardi",
        "9ham",
        "9.30",
        "1-12",
        "tomorrow tomorrow",
        "mars",
        "2026-12-01 09:00 UTC",
    ],
)
def test_garbage_is_unrecognised(text: str) -> None:
    error = refusal(text)

    assert error.code == "unrecognised"
    assert error.text == text


def test_when_error_is_a_value_error_with_a_useful_message() -> None:
    error = refusal("25:00")

    assert isinstance(error, ValueError)
    assert "bad_time" in str(error)
    assert "25:00" in str(error)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware") as caught:
        parse_when("tomorrow", now=datetime(2026, 11, 25, 10, 0), tz="UTC")  # noqa: DTZ001

    assert not isinstance(caught.value, WhenError)


# --- weekly schedules ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon", 0),
        ("Monday", 0),
        ("lundi", 0),
        ("lun.", 0),
        ("mondays", 0),
        ("tue", 1),
        ("tues", 1),
        ("tuesday", 1),
        ("mardi", 1),
        ("mar", 1),
        ("mercredi", 2),
        ("thurs", 3),
        ("jeudi", 3),
        ("vendredis", 4),
        ("sam", 5),
        (" SUNDAY ", 6),
        ("dim", 6),
    ],
)
def test_parse_weekday(text: str, expected: int) -> None:
    assert parse_weekday(text) == expected


@pytest.mark.parametrize("text", ["mars", "tuesdayz", "", "someday", "7", "tomorrow"])
def test_parse_weekday_refuses(text: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_weekday(text)

    assert caught.value.code == "unrecognised"


def test_weekdays_cover_both_languages_for_every_day() -> None:
    for day in range(7):
        names = {name for name, number in WEEKDAYS.items() if number == day}
        assert len(names) >= 4, names  # English and French, full and short


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:00", time(10, 0)),
        ("10h", time(10, 0)),
        ("9am", time(9, 0)),
        ("21h30", time(21, 30)),
        ("9:30pm", time(21, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("9", time(9, 0)),
        ("Midi", time(12, 0)),
    ],
)
def test_parse_clock(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("25:00", "bad_time"),
        ("13pm", "bad_time"),
        ("9:75", "bad_time"),
        ("noonish", "unrecognised"),
        ("", "unrecognised"),
    ],
)
def test_parse_clock_refuses(text: str, code: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_clock(text)

    assert caught.value.code == code


# --- the slash command's trailing "at <when>" ---


@pytest.mark.parametrize(
    ("command", "caption", "when"),
    [
        ("Our new report at last! at tomorrow 9:00", "Our new report at last!", "tomorrow 9:00"),
        ("Meet us at the fair", "Meet us at the fair", None),
        ("Big news at tomorrow at 9am", "Big news", "tomorrow at 9am"),
        ("Lancement le 1/12 à 9h", "Lancement", "1/12 à 9h"),
        ("Notre rapport à demain 9h", "Notre rapport", "demain 9h"),
        ("Nouveau rapport le lundi", "Nouveau rapport", "lundi"),
        ("Lisez le rapport", "Lisez le rapport", None),
        ("Lisez le 3", "Lisez le 3", None),  # "le 3" is the 3rd, not 03:00
        ("Read it in 5 minutes", "Read it in 5 minutes", None),
        ("Launch AT Friday 5pm", "Launch", "Friday 5pm"),
        ("Launch @ 17h", "Launch", "17h"),
        ("Party at 25:00", "Party", "25:00"),  # split off, so the admin hears it is a bad time
        ("Ends with at", "Ends with at", None),
        ("at in 2 hours", "", "in 2 hours"),
        ("at 9am", "", "9am"),
    ],
)
def test_split_trailing_when(command: str, caption: str, when: str | None) -> None:
    words, found = split_trailing_when(command.split())

    assert " ".join(words) == caption
    assert found == when


def test_split_trailing_when_of_nothing() -> None:
    assert split_trailing_when([]) == ([], None)


def test_split_does_not_alias_the_callers_list() -> None:
    words = ["Meet", "us"]

    caption, _ = split_trailing_when(words)
    caption.append("!")

    assert words == ["Meet", "us"]


def test_split_then_parse() -> None:
    _, when = split_trailing_when(["Our", "new", "report", "at", "last!", "at", "tomorrow", "9:00"])

    assert when is not None
    assert parse(when) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
