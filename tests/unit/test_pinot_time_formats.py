"""The text forms Pinot's time functions take (ingestd.query.joda): Joda patterns, DateTimeFieldSpec
formats, granularities and ISO-8601 durations, read as Pinot reads them."""

from __future__ import annotations

import pytest

from ingestd.errors import QueryError
from ingestd.query.joda import TimeFormat, iso_duration_ms, parse_format, parse_granularity, strftime_format


@pytest.mark.parametrize(("pattern", "expected"), [
    ("yyyy-MM-dd", "%Y-%m-%d"),
    ("yyyyMMdd", "%Y%m%d"),
    ("yyyy-MM-dd HH:mm:ss.SSS", "%Y-%m-%d %H:%M:%S.%g"),
    ("yyyy-MM-dd'T'HH:mm:ss", "%Y-%m-%dT%H:%M:%S"),
    ("hh 'o''clock' a", "%I o'clock %p"),
    ("''yy''", "'%y'"),
    ("EEE, d MMM yyyy", "%a, %-d %b %Y"),
    ("EEEE MMMM", "%A %B"),
    ("D/DDD H:m:s", "%-j/%j %-H:%-M:%-S"),
    ("xxxx-'W'ww-e", "%G-W%V-%u"),
    ("100% yyyy", "100%% %Y"),
    ("yyyy-MM-dd HH:mm:ssZ", "%Y-%m-%d %H:%M:%S+0000"),
    ("HH:mm z", "%H:%M UTC"),
])
def test_joda_patterns_as_strftime(pattern: str, expected: str) -> None:
    assert strftime_format(pattern) == expected


@pytest.mark.parametrize("pattern", ["GGGG yyyy", "K:mm", "kk", "S", "yyyy-MM-dd HH:mm Z;America/New_York",
                                     "T"])
def test_unsupported_pattern_letters_are_refused(pattern: str) -> None:
    zone = pattern.split(";")[1] if ";" in pattern else "UTC"
    with pytest.raises(QueryError) as raised:
        strftime_format(pattern.split(";")[0], zone)
    assert raised.value.code == QueryError.QUERY_VALIDATION


@pytest.mark.parametrize(("text", "expected"), [
    ("1:MILLISECONDS:EPOCH", TimeFormat("EPOCH")),
    ("5:MINUTES:EPOCH", TimeFormat("EPOCH", 5, "MINUTES")),
    ("1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd", TimeFormat("SIMPLE_DATE_FORMAT", pattern="yyyy-MM-dd")),
    ("1:HOURS:SIMPLE_DATE_FORMAT:yyyy-MM-dd HH tz(America/New_York)",
     TimeFormat("SIMPLE_DATE_FORMAT", pattern="yyyy-MM-dd HH", zone="America/New_York")),
    ("1:MILLISECONDS:TIMESTAMP", TimeFormat("TIMESTAMP")),
    ("EPOCH", TimeFormat("EPOCH")),
    ("EPOCH|SECONDS", TimeFormat("EPOCH", 1, "SECONDS")),
    ("EPOCH|MINUTES|15", TimeFormat("EPOCH", 15, "MINUTES")),
    ("SIMPLE_DATE_FORMAT|yyyyMMdd", TimeFormat("SIMPLE_DATE_FORMAT", pattern="yyyyMMdd")),
    ("SIMPLE_DATE_FORMAT|yyyy-MM-dd HH:mm|Asia/Kolkata",
     TimeFormat("SIMPLE_DATE_FORMAT", pattern="yyyy-MM-dd HH:mm", zone="Asia/Kolkata")),
    ("SIMPLE_DATE_FORMAT", TimeFormat("SIMPLE_DATE_FORMAT")),
    ("TIMESTAMP", TimeFormat("TIMESTAMP")),
    ("1:WEEKS:EPOCH", TimeFormat("EPOCH", 1, "WEEKS")),
])
def test_date_time_field_spec_formats(text: str, expected: TimeFormat) -> None:
    assert parse_format(text) == expected


@pytest.mark.parametrize("text", ["", "1:MILLISECONDS", "0:SECONDS:EPOCH", "1:FORTNIGHTS:EPOCH",
                                  "EPOCH|SECONDS|x", "1:DAYS:EPOCHS", "ISO"])
def test_bad_formats_are_refused(text: str) -> None:
    with pytest.raises(QueryError):
        parse_format(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("1:MILLISECONDS", (1, "MILLISECONDS")), ("15:MINUTES", (15, "MINUTES")), ("1:DAYS", (1, "DAYS")),
    ("HOURS", (1, "HOURS")), ("MINUTES|30", (30, "MINUTES")),
])
def test_granularities(text: str, expected: tuple[int, str]) -> None:
    assert parse_granularity(text) == expected


@pytest.mark.parametrize("text", ["15", "0:MINUTES", "1:MICROSECONDS", "MINUTES|0", "1:WEEKS"])
def test_bad_granularities_are_refused(text: str) -> None:
    with pytest.raises(QueryError):
        parse_granularity(text)


@pytest.mark.parametrize(("text", "millis"), [  # java.time.Duration.parse(text).toMillis()
    ("PT1H", 3_600_000), ("PT15M", 900_000), ("P2D", 172_800_000), ("PT20.345S", 20_345),
    ("P2DT3H4M", 183_840_000), ("-PT6H3M", -21_780_000), ("PT-6H3M", -21_420_000), ("pt1h", 3_600_000),
    ("PT0.0005S", 0), ("-PT0.0005S", -1), ("PT-0.5S", -500),
])
def test_iso_durations(text: str, millis: int) -> None:
    assert iso_duration_ms(text) == millis


@pytest.mark.parametrize("text", ["P1M", "P1Y", "PT", "P", "1H", "P1W", "PT1.5H"])
def test_durations_java_rejects_are_refused(text: str) -> None:
    with pytest.raises(QueryError):
        iso_duration_ms(text)
