"""Per-value conversions of decoded values (JSON's, and Avro's as avro_pinot.avro_value gives them) to a
Pinot data type: the decoders' slow path, and the definition their vectorized paths must agree with.

Each converter raises ValueError/TypeError for a value that cannot be converted (or stored: a decimal
beyond the column's precision, a time beyond 64 bits); the caller then counts the message as malformed.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

from ingestd.columns import BIG_DECIMAL_TYPE
from ingestd.config.schema import DataType

_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLI = timedelta(milliseconds=1)


def _integer(bounds: tuple[int, int]) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError("boolean is not an integer")
        if isinstance(value, datetime | date | time):
            value = _temporal_number(value)
        if isinstance(value, bytes):
            raise TypeError("bytes are not an integer")
        exact_text = isinstance(value, str) and value.lstrip("-").isdigit()
        number = int(float(value)) if isinstance(value, str) and not exact_text else int(value)
        if not bounds[0] <= number <= bounds[1]:
            raise ValueError(f"{number} is out of range")
        return number

    return convert


def _floating(value: Any) -> float:
    if isinstance(value, bool | bytes):
        raise TypeError(f"{type(value).__name__} is not a number")
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
    if isinstance(value, bytes):
        return value.hex()  # Pinot's BYTES → STRING
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a string")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()  # as Jackson writes byte[]
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value, default=_json_default).decode()


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError("BYTES values are hex strings")
    return bytes.fromhex(value)


def _timestamp(value: Any) -> int:
    millis = _timestamp_millis(value)
    if not _LONG_RANGE[0] <= millis <= _LONG_RANGE[1]:
        raise ValueError(f"{millis} is out of range")
    return millis


def _temporal_number(value: datetime | date | time) -> int:
    """Epoch milliseconds of a datetime, days of a date, milliseconds of a time of day."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (aware - _EPOCH) // _MILLI
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000


def _timestamp_millis(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("boolean is not a timestamp")
    if isinstance(value, datetime):
        return _temporal_number(value)
    if isinstance(value, date):
        return _temporal_number(value) * 86_400_000
    if isinstance(value, int | float | Decimal):
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
    if not isinstance(value, str | int | float | Decimal):
        raise TypeError(f"{type(value).__name__} is not a decimal")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    pa.scalar(number, BIG_DECIMAL_TYPE)  # raises (ArrowInvalid, a ValueError) beyond the column's range
    return number


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
