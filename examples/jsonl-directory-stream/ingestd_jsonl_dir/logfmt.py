"""An example ingestd decoder plugin: logfmt lines (`studentID=205 subject="Maths" score=3.8`) into rows,
walked through in ingestd's docs/plugins.md ("Writing a decoder plugin").

One column per schema field, converted to the field's type here; a missing key is a null (ingestd fills
Pinot's default null value and the time-column rules after every decoder). A message that does not parse,
or whose value does not convert, is reported in `bad_indices` (counted as malformed and skipped), never
raised. A multi-value field takes comma-separated values. Decoder properties (`stream.<type>.decoder.prop.*`):
`separator` for multi-value fields (default ",").
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa

from ingestd.config.schema import Schema
from ingestd.config.table import TableConfig
from ingestd.decode.spi import DecodedBatch

_CONVERT: dict[str, Callable[[str], Any]] = {
    "INT": int, "LONG": int, "TIMESTAMP": int, "FLOAT": float, "DOUBLE": float, "BIG_DECIMAL": Decimal,
    "BOOLEAN": lambda text: {"true": True, "false": False}[text.lower()],
    "STRING": str, "JSON": str, "BYTES": bytes.fromhex,
}
_ARROW = {"INT": pa.int32(), "LONG": pa.int64(), "TIMESTAMP": pa.int64(), "FLOAT": pa.float32(),
          "DOUBLE": pa.float64(), "BIG_DECIMAL": pa.decimal128(38, 18), "BOOLEAN": pa.bool_(),
          "STRING": pa.string(), "JSON": pa.string(), "BYTES": pa.binary()}


class LogfmtDecoder:
    def __init__(self, schema: Schema, table: TableConfig) -> None:
        self._fields = [(f.name, str(f.data_type.value).upper(), f.single_value) for f in schema.fields]
        self._separator = table.stream.decoder_properties.get("separator", ",")

    def decode(self, values: list[bytes | None]) -> DecodedBatch:
        columns: dict[str, list[Any]] = {name: [] for name, _, _ in self._fields}
        bad: list[int] = []
        first_error: str | None = None
        for index, value in enumerate(values):
            try:
                row = self._row(value)
            except (ValueError, KeyError, ArithmeticError, UnicodeDecodeError) as exc:
                bad.append(index)
                first_error = first_error or f"message {index}: {type(exc).__name__}: {exc}"
                continue
            for name, _, _ in self._fields:
                columns[name].append(row.get(name))
        arrays = [pa.array(columns[name], type=_ARROW[kind] if single else pa.list_(_ARROW[kind]))
                  for name, kind, single in self._fields]
        rows = pa.RecordBatch.from_arrays(arrays, names=[name for name, _, _ in self._fields])
        return DecodedBatch(rows, bad_indices=bad, first_error=first_error)

    def _row(self, value: bytes | None) -> dict[str, Any]:
        if value is None:
            raise ValueError("no value (a tombstone)")
        pairs = dict(token.split("=", 1) for token in shlex.split(value.decode()) if "=" in token)
        if not pairs:
            raise ValueError("no key=value pair")
        row: dict[str, Any] = {}
        for name, kind, single in self._fields:
            text = pairs.get(name)
            if text is None or text == "":
                continue
            convert = _CONVERT[kind]
            row[name] = convert(text) if single else [convert(part) for part in text.split(self._separator)]
        return row
