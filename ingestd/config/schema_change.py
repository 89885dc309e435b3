"""Which schema changes a live table accepts: Pinot's backward-compatibility rule (Schema and
FieldSpec.isBackwardCompatibleWith: every old column stays, with its data type and single/multi-value
kind) plus ingestd's own (a table's time column keeps its format, since sealed segments' time ranges
and retention are in its unit). New columns are welcome: older segments answer their default null value.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingestd.config.schema import Schema
from ingestd.errors import Conflict


def check_schema_change(old: Schema, new: Schema, time_columns: Iterable[str] = ()) -> list[str]:
    """The columns `new` adds to `old`; raises Conflict naming the first column `new` removes or
    changes in a way stored segments cannot follow."""
    for field in old.fields:
        replacement = new.field(field.name)
        if replacement is None:
            raise Conflict(f"schema {old.name!r}: column {field.name!r} cannot be removed while a table uses "
                           "the schema (its segments hold it); only new columns can be added")
        if replacement.data_type is not field.data_type:
            raise Conflict(f"schema {old.name!r}: column {field.name!r} cannot change its dataType from "
                           f"{field.data_type.value} to {replacement.data_type.value} while a table uses the "
                           "schema; add a new column instead")
        if replacement.single_value != field.single_value:
            raise Conflict(f"schema {old.name!r}: column {field.name!r} cannot change singleValueField "
                           "while a table uses the schema; add a new column instead")
    for column in time_columns:
        before, after = old.field(column), new.field(column)
        if before is not None and after is not None and (before.format, before.granularity, before.role) != (
                after.format, after.granularity, after.role):
            raise Conflict(f"schema {old.name!r}: the time column {column!r} cannot change its format, "
                           "granularity or kind while a table uses it (sealed segments keep their time "
                           "ranges)")
    known = set(old.column_names)
    return [name for name in new.column_names if name not in known]
