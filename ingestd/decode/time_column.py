"""The time column after decoding, as Pinot treats it (NullValueTransformer, TimeValidationTransformer):

* a missing value becomes the field's defaultNullValue if that lies in the valid range, else the current
  time in the column's own unit (a seconds column gets seconds);
* a value outside Pinot's valid range (1971-01-01 to 2071-01-01 UTC) is kept, unless the table sets
  `ingestionConfig.rowTimeValueCheck`, which replaces it with the default as well.
Both are counted, so the status can show them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ingestd.columns import STORAGE_TYPES, now_ms, time_values_ms
from ingestd.config.schema import FieldSpec

VALID_MIN_MS = 31_536_000_000  # 1971-01-01T00:00:00Z
VALID_MAX_MS = 3_187_296_000_000  # 2071-01-01T00:00:00Z
# as scalars: a Python int argument costs pyarrow a failing numpy import per call where numpy is absent
_MIN, _MAX = pa.scalar(VALID_MIN_MS, pa.int64()), pa.scalar(VALID_MAX_MS, pa.int64())


@dataclass(frozen=True)
class TimeFixes:
    defaulted: int = 0
    invalid: int = 0


class TimeColumnPolicy:
    def __init__(self, spec: FieldSpec, check_range: bool) -> None:
        self._spec = spec
        self._factor = spec.epoch_ms_factor()
        self._check_range = check_range and self._factor is not None

    def apply(self, column: pa.Array) -> tuple[pa.Array, TimeFixes]:
        """`column` with missing (and, if checked, out-of-range) values replaced by the default."""
        invalid = 0
        if self._factor is not None:
            millis = time_values_ms(column)
            if self._factor != 1:
                millis = pc.multiply(millis, pa.scalar(self._factor, pa.int64()))
            outside = pc.or_(pc.less(millis, _MIN), pc.greater(millis, _MAX))
            invalid = pc.sum(outside).as_py() or 0
            if invalid and self._check_range:
                column = pc.if_else(outside, pa.scalar(None, column.type), column)
        defaulted = column.null_count - (invalid if self._check_range else 0)
        if column.null_count:
            column = pc.fill_null(column, self._default())
        return column, TimeFixes(defaulted, invalid)

    def _default(self) -> pa.Scalar:
        arrow_type = STORAGE_TYPES[self._spec.data_type]
        configured = self._spec.default_null_value
        if self._factor is None:
            return pa.scalar(self._spec.null_value, arrow_type)
        if configured is not None and VALID_MIN_MS <= int(configured) * self._factor <= VALID_MAX_MS:
            return pa.scalar(int(configured), arrow_type)
        return pa.scalar(now_ms() // self._factor, arrow_type)
