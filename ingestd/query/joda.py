"""The text forms Pinot's time functions take, read in Python: Joda/Java date-time patterns as DuckDB
strftime/strptime formats, DateTimeFieldSpec formats (`1:MILLISECONDS:EPOCH`, `EPOCH|SECONDS|5`,
`1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd tz(America/New_York)`, `SIMPLE_DATE_FORMAT|yyyyMMdd|UTC`,
`TIMESTAMP`), granularities (`15:MINUTES`, `MINUTES|15`), time unit names and ISO-8601 durations.

Semantics follow pinot-spi's DateTimeFormatSpec / DateTimeFormatPatternSpec / DateTimeGranularitySpec
and Joda-Time's DateTimeFormat; see docs/pinot-functions.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestd.errors import QueryError

# java.util.concurrent.TimeUnit names Pinot accepts, in milliseconds (sub-millisecond units divide).
UNIT_MS = {"MILLISECONDS": 1, "SECONDS": 1000, "MINUTES": 60_000, "HOURS": 3_600_000, "DAYS": 86_400_000}
SUB_MS_DIVISORS = {"MICROSECONDS": 1000, "NANOSECONDS": 1_000_000}
# Output-only epoch units (DateTimeFormatUnitSpec.DateTimeTransformUnit): calendar differences from 1970.
CALENDAR_UNITS = ("WEEKS", "MONTHS", "YEARS")
UTC_NAMES = frozenset({"UTC", "GMT", "Z", "ETC/UTC", "ETC/GMT", "UCT", "ZULU"})


def _invalid(message: str) -> QueryError:
    return QueryError(QueryError.QUERY_VALIDATION, message)


@dataclass(frozen=True)
class TimeFormat:
    kind: str  # "EPOCH" | "SIMPLE_DATE_FORMAT" | "TIMESTAMP"
    size: int = 1
    unit: str = "MILLISECONDS"
    pattern: str | None = None  # a Joda pattern; None is ISO-8601 (yyyy-MM-dd'T'HH:mm:ss...)
    zone: str = "UTC"


_TZ_SUFFIX = re.compile(r"^(.+)( tz *\((.+)\)) *$")


def parse_format(text: str) -> TimeFormat:
    """A DateTimeFieldSpec format, colon form (starts with a digit) or pipe form."""
    if not text:
        raise _invalid("a time format is required")
    if text[0].isdigit():
        tokens = text.split(":", 3)
        if len(tokens) < 3:
            raise _invalid(f"invalid time format {text!r}: expected size:timeUnit:timeFormat(:pattern)")
        kind = tokens[2].upper()
        if kind == "EPOCH":
            return TimeFormat("EPOCH", _positive(tokens[0], text), _unit(tokens[1], text))
        if kind == "TIMESTAMP":
            return TimeFormat("TIMESTAMP")
        if kind == "SIMPLE_DATE_FORMAT":
            if len(tokens) < 4:
                return TimeFormat("SIMPLE_DATE_FORMAT")
            match = _TZ_SUFFIX.match(tokens[3])
            if match:
                pattern, zone = match.group(1).strip(), match.group(3).strip()
                return TimeFormat("SIMPLE_DATE_FORMAT", pattern=pattern, zone=zone)
            return TimeFormat("SIMPLE_DATE_FORMAT", pattern=tokens[3])
        raise _invalid(f"invalid time format {text!r}: unknown {tokens[2]!r}")
    tokens = text.split("|", 2)
    kind = tokens[0].upper()
    if kind == "EPOCH":
        unit = _unit(tokens[1], text) if len(tokens) > 1 else "MILLISECONDS"
        return TimeFormat("EPOCH", _positive(tokens[2], text) if len(tokens) > 2 else 1, unit)
    if kind == "TIMESTAMP" and len(tokens) == 1:
        return TimeFormat("TIMESTAMP")
    if kind == "SIMPLE_DATE_FORMAT":
        pattern = tokens[1] if len(tokens) > 1 else None
        return TimeFormat("SIMPLE_DATE_FORMAT", pattern=pattern, zone=tokens[2] if len(tokens) > 2 else "UTC")
    raise _invalid(f"invalid time format {text!r}")


def parse_granularity(text: str) -> tuple[int, str]:
    """(size, TimeUnit name) of `15:MINUTES` or `MINUTES|15` (`MINUTES` alone: size 1)."""
    if text and text[0].isdigit():
        tokens = text.split(":")
        if len(tokens) != 2:
            raise _invalid(f"invalid granularity {text!r}: expected size:timeUnit")
        size, unit = _positive(tokens[0], text), tokens[1]
    else:
        tokens = text.split("|")
        if not 1 <= len(tokens) <= 2 or not tokens[0]:
            raise _invalid(f"invalid granularity {text!r}: expected timeUnit(|size)")
        size, unit = (_positive(tokens[1], text) if len(tokens) == 2 else 1), tokens[0]
    unit = unit.upper()
    if unit not in UNIT_MS:
        raise _invalid(f"invalid granularity {text!r}: the unit must be MILLISECONDS..DAYS")
    return size, unit


def time_unit(text: str, allow_sub_ms: bool = True) -> str:
    """A java.util.concurrent.TimeUnit name, any case."""
    unit = text.strip().upper()
    if unit not in UNIT_MS and not (allow_sub_ms and unit in SUB_MS_DIVISORS):
        raise _invalid(f"invalid time unit {text!r}")
    return unit


def _unit(text: str, spec: str) -> str:
    unit = text.upper()
    if unit not in UNIT_MS and unit not in SUB_MS_DIVISORS and unit not in CALENDAR_UNITS:
        raise _invalid(f"invalid time unit {text!r} in {spec!r}")
    return unit


def _positive(text: str, spec: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise _invalid(f"invalid size {text!r} in {spec!r}: must be a positive integer")
    return int(text)


def is_utc(zone: str) -> bool:
    return zone.strip().upper() in UTC_NAMES


# Joda pattern letters as strftime/strptime directives, by (letter, count); counts beyond the table's
# largest use its largest entry where Joda would only pad further (years), else they are refused.
_DIRECTIVES: dict[str, dict[int, str]] = {
    "y": {1: "%Y", 2: "%y", 3: "%Y", 4: "%Y"},
    "Y": {1: "%Y", 2: "%y", 3: "%Y", 4: "%Y"},
    "x": {1: "%G", 3: "%G", 4: "%G"},
    "M": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"},
    "d": {1: "%-d", 2: "%d"},
    "D": {1: "%-j", 3: "%j"},
    "H": {1: "%-H", 2: "%H"},
    "h": {1: "%-I", 2: "%I"},
    "m": {1: "%-M", 2: "%M"},
    "s": {1: "%-S", 2: "%S"},
    "S": {3: "%g", 6: "%f"},
    "a": {1: "%p", 2: "%p"},
    "E": {1: "%a", 2: "%a", 3: "%a", 4: "%A"},
    "e": {1: "%u"},
    "w": {2: "%V"},
}
_TEXT_LETTERS = {"M": 3, "E": 4}  # from this count on, the text form (longest entry)
_UTC_ZONE_TEXT = {"Z": {1: "+0000", 2: "+00:00"}, "z": {1: "UTC", 2: "UTC", 3: "UTC"}}


def strftime_format(pattern: str, zone: str = "UTC") -> str:
    """The DuckDB strftime/strptime format of a Joda pattern. Zone letters (Z, z) are supported for
    UTC only (their text is then constant); letters DuckDB has no directive for are refused."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = i + 1
            text: list[str] = []
            while end < len(pattern):
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        text.append("'")
                        end += 2
                        continue
                    break
                text.append(pattern[end])
                end += 1
            out.append("'" if end == i + 1 else "".join(text).replace("%", "%%"))
            i = end + 1
            continue
        if not char.isalpha():
            out.append("%%" if char == "%" else char)
            i += 1
            continue
        count = 1
        while i + count < len(pattern) and pattern[i + count] == char:
            count += 1
        out.append(_directive(char, count, zone, pattern))
        i += count
    return "".join(out)


def _directive(letter: str, count: int, zone: str, pattern: str) -> str:
    if letter in _UTC_ZONE_TEXT:
        if not is_utc(zone):
            raise _invalid(f"time zone letter {letter!r} in pattern {pattern!r} is supported for UTC only")
        texts = _UTC_ZONE_TEXT[letter]
        return texts[min(count, max(texts))]
    table = _DIRECTIVES.get(letter)
    if table is None:
        raise _invalid(f"pattern letter {letter!r} in {pattern!r} is not supported")
    if count in table:
        return table[count]
    if letter in _TEXT_LETTERS and count >= _TEXT_LETTERS[letter]:
        return table[max(table)]
    if letter in "yY" and count > 4:
        return "%Y"
    raise _invalid(f"{count} x {letter!r} in pattern {pattern!r} is not supported")


_DURATION = re.compile(
    r"^([-+]?)P(?:([-+]?\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?$",
    re.IGNORECASE)


def iso_duration_ms(text: str) -> int:
    """Milliseconds of an ISO-8601 duration as java.time.Duration.parse reads it (PnDTnHnMn.nS; a day
    is 24 hours; no years, months or weeks), rounded down to milliseconds like Duration.toMillis."""
    match = _DURATION.match(text.strip())
    if not match or text.strip().upper().endswith("T") or not any(match.group(g) for g in (2, 3, 4, 5)):
        raise _invalid(f"invalid ISO-8601 duration {text!r} (e.g. PT1H, P2D, PT15M, PT20.345S)")
    sign, days, hours, minutes, seconds, fraction = match.groups()
    nanos = (int(days or 0) * 86_400 + int(hours or 0) * 3_600 + int(minutes or 0) * 60
             + int(seconds or 0)) * 1_000_000_000
    if fraction:
        part = int(fraction.ljust(9, "0"))
        nanos += -part if (seconds or "").startswith("-") else part
    if sign == "-":
        nanos = -nanos
    return nanos // 1_000_000  # Duration keeps whole seconds floored plus positive nanos: floor division
