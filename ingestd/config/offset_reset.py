"""`auto.offset.reset`: where a partition with no checkpoint starts, in every form Pinot accepts.

`smallest` / `largest` (Kafka's `earliest` / `latest` too), and a point in time: epoch milliseconds (the
seed's form), a period before the moment consumption starts (`2d`, `4h30m`, `90s`: Pinot's days, hours,
minutes, seconds, in that order), or an ISO-8601 instant with its zone (`2022-08-09T12:31:38.222Z`). A point
in time starts each partition at its first message stamped at or after it (Kafka's offsets-for-times).
"""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass
from datetime import datetime

from ingestd.errors import ConfigError

_PERIOD = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$", re.IGNORECASE)
_PERIOD_UNITS_MS = (86_400_000, 3_600_000, 60_000, 1_000)
_ALIASES = {"smallest": "smallest", "earliest": "smallest", "largest": "largest", "latest": "largest"}


class OffsetReset(enum.Enum):
    SMALLEST = "smallest"
    LARGEST = "largest"
    TIMESTAMP = "timestamp"  # a point in time (ResetTime): the first message stamped at or after it


@dataclass(frozen=True)
class ResetTime:
    """The point in time of a TIMESTAMP reset: absolute, or a period before consumption starts."""

    text: str  # as configured, for messages
    timestamp_ms: int | None = None
    period_ms: int | None = None

    def start_ms(self, now_ms: int | None = None) -> int:
        if self.timestamp_ms is not None:
            return self.timestamp_ms
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return now - (self.period_ms or 0)


def parse_offset_reset(value: object, path: str) -> tuple[OffsetReset, ResetTime | None]:
    """The policy named by an `auto.offset.reset` value; ConfigError naming `path` when it is none."""
    text = str(value).strip()
    alias = _ALIASES.get(text.lower())
    if alias is not None:
        return OffsetReset(alias), None
    if text.isdigit():
        return OffsetReset.TIMESTAMP, ResetTime(text, timestamp_ms=int(text))
    period = _PERIOD.match(text)
    if text and period is not None:
        millis = sum(int(part) * unit for part, unit in zip(period.groups(), _PERIOD_UNITS_MS, strict=True)
                     if part)
        return OffsetReset.TIMESTAMP, ResetTime(text, period_ms=millis)
    instant = _parse_instant(text)
    if instant is not None:
        return OffsetReset.TIMESTAMP, ResetTime(text, timestamp_ms=instant)
    raise ConfigError(path, "must be smallest, largest, a timestamp in milliseconds, a period like '2d' or "
                            f"'4h30m', or an ISO-8601 instant like '2022-08-09T12:31:38.222Z'; got {text!r}")


def _parse_instant(text: str) -> int | None:
    """Epoch milliseconds of an ISO-8601 instant with a zone (`Z` or `+02:00`); None otherwise."""
    if "T" not in text.upper():
        return None
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)
