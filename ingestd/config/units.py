"""Pinot's duration strings ("6h", "4h30m", "3600000") and size strings ("150M", "1G")."""

from __future__ import annotations

import re

from ingestd.errors import ConfigError

_PERIOD_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])", re.IGNORECASE)
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000}
TIME_UNIT_MS = {"MILLISECONDS": 1, "SECONDS": 1_000, "MINUTES": 60_000, "HOURS": 3_600_000,
                "DAYS": 86_400_000}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)
_SIZE_FACTOR = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_duration_ms(value: object, path: str) -> int:
    """Milliseconds from a plain number of ms or a period like `6h`, `30m`, `1d`, `4h30m`."""
    text = str(value).strip()
    parts = _PERIOD_PART.findall(text)
    if text.isdigit():
        total = float(text)
    elif parts and "".join(n + u for n, u in parts).lower() == text.lower():
        total = sum(float(number) * _UNIT_MS[unit.lower()] for number, unit in parts)
    else:
        raise ConfigError(path, f"must be milliseconds or a period like '6h' or '30m', got {value!r}")
    if total <= 0:
        raise ConfigError(path, f"must be a positive duration, got {value!r}")
    return int(total)


def parse_size_bytes(value: object, path: str) -> int:
    """Bytes from a size like `200M`, `150MB`, `1G` or a plain number of bytes."""
    match = _SIZE.match(str(value))
    if not match:
        raise ConfigError(path, f"must be a size like '200M' or '1G', got {value!r}")
    number, unit, _ = match.groups()
    size = int(float(number) * _SIZE_FACTOR[unit.upper()])
    if size <= 0:
        raise ConfigError(path, f"must be a positive size, got {value!r}")
    return size
