"""Per-value conversions of decoded JSON values to a Pinot data type (the decoders' slow path).

Each converter raises ValueError/TypeError for a value that cannot be converted; the caller then
counts the whole message as malformed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from ingestd.config.schema import DataType

_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)


def _integer(bounds: tuple[int, int]) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError("boolean is not an integer")
        exact_text = isinstance(value, str) and value.lstrip("-").isdigit()
        number = int(float(value)) if isinstance(value, str) and not exact_text else int(value)
        if not bounds[0] <= number <= bounds[1]:
            raise ValueError(f"{number} is out of range")
        return number

    return convert


def _floating(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("boolean is not a number")
    return float(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{value!r} is not a boolean")


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a string")


def _json(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("BYTES values are hex strings")
    return bytes.fromhex(value)


def _timestamp(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("boolean is not a timestamp")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        if value.lstrip("-").isdigit():
            return int(value)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    raise TypeError(f"{type(value).__name__} is not a timestamp")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("boolean is not a decimal")
    return Decimal(str(value))


CONVERTERS: dict[DataType, Callable[[Any], Any]] = {
    DataType.INT: _integer(_INT_RANGE),
    DataType.LONG: _integer(_LONG_RANGE),
    DataType.FLOAT: _floating,
    DataType.DOUBLE: _floating,
    DataType.BIG_DECIMAL: _decimal,
    DataType.BOOLEAN: _boolean,
    DataType.TIMESTAMP: _timestamp,
    DataType.STRING: _string,
    DataType.JSON: _json,
    DataType.BYTES: _bytes,
}
