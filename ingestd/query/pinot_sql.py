"""Building blocks of the Pinot-function translation: DuckDB expression trees made from fixed SQL
templates with argument subtrees substituted in, literal nodes, Pinot result types, and the call a
translation rule receives.

Templates are constant strings written in this package; `{0}`, `{1}`... mark where argument subtrees
go. They are parsed once (by DuckDB) and copied; user values only ever enter as subtrees or literal
nodes, never as SQL text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingestd.errors import QueryError
from ingestd.query.sql_ast import Node, clone, expression, replace

_PLACEHOLDER = re.compile(r"\{(\d+)\}")
_ARGUMENT_PREFIX = "__pinot_arg"


@dataclass(frozen=True)
class PinotType:
    """A Pinot data type name (INT, LONG, FLOAT, DOUBLE, BIG_DECIMAL, BOOLEAN, TIMESTAMP, STRING, JSON,
    BYTES) and whether the value is multi-valued (an Arrow list)."""
    name: str
    multi_value: bool = False

    @property
    def integral(self) -> bool:
        return self.name in ("INT", "LONG") and not self.multi_value

    @property
    def fractional(self) -> bool:
        return self.name in ("FLOAT", "DOUBLE", "BIG_DECIMAL") and not self.multi_value

    @property
    def timestamp(self) -> bool:
        return self.name == "TIMESTAMP" and not self.multi_value


INT, LONG, FLOAT, DOUBLE = PinotType("INT"), PinotType("LONG"), PinotType("FLOAT"), PinotType("DOUBLE")
BIG_DECIMAL, BOOLEAN, TIMESTAMP = PinotType("BIG_DECIMAL"), PinotType("BOOLEAN"), PinotType("TIMESTAMP")
STRING, JSON, BYTES = PinotType("STRING"), PinotType("JSON"), PinotType("BYTES")
STRING_MV = PinotType("STRING", multi_value=True)

# The DuckDB type each Pinot type is produced as (a CAST target), and Pinot's names for them in CAST.
DUCKDB_TYPES = {"INT": "INTEGER", "LONG": "BIGINT", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE",
                "BIG_DECIMAL": "DECIMAL(38, 18)", "BOOLEAN": "BOOLEAN", "TIMESTAMP": "TIMESTAMP",
                "STRING": "VARCHAR", "JSON": "VARCHAR", "BYTES": "BLOB"}
_TYPE_NAMES = {
    "INT": "INT", "INTEGER": "INT", "INT4": "INT", "SMALLINT": "INT", "TINYINT": "INT", "INT2": "INT",
    "LONG": "LONG", "BIGINT": "LONG", "INT8": "LONG", "FLOAT": "FLOAT", "REAL": "FLOAT", "FLOAT4": "FLOAT",
    "DOUBLE": "DOUBLE", "FLOAT8": "DOUBLE", "DECIMAL": "BIG_DECIMAL", "NUMERIC": "BIG_DECIMAL",
    "BIG_DECIMAL": "BIG_DECIMAL", "BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN", "TIMESTAMP": "TIMESTAMP",
    "DATETIME": "TIMESTAMP", "VARCHAR": "STRING", "STRING": "STRING", "TEXT": "STRING", "CHAR": "STRING",
    "JSON": "JSON", "BLOB": "BYTES", "BYTES": "BYTES", "BYTEA": "BYTES", "VARBINARY": "BYTES",
}


def pinot_type_of_name(type_name: str) -> PinotType | None:
    """The Pinot type of a SQL type name as written in a CAST (`LONG`, `BIGINT`, `VARCHAR`...)."""
    name = _TYPE_NAMES.get(type_name.upper())
    return PinotType(name) if name else None


def result_type(type_name: str) -> PinotType:
    """A Pinot type named by a function argument ('INT', 'STRING'...); QueryError when unknown."""
    name = type_name.strip().upper()
    if name not in DUCKDB_TYPES:
        raise invalid(f"unknown Pinot data type {type_name!r}")
    return PinotType(name)


def invalid(message: str) -> QueryError:
    """The error for a Pinot function called with arguments Pinot would reject."""
    return QueryError(QueryError.QUERY_VALIDATION, message)


@functools.cache
def _parsed(sql: str) -> Node:
    return expression(_PLACEHOLDER.sub(lambda m: f'"{_ARGUMENT_PREFIX}{m.group(1)}"', sql))


def template(sql: str, *args: Node) -> Node:
    """The tree of `sql` (a constant template) with `{i}` replaced by a copy of `args[i]`."""
    def substitute(node: Node) -> Node | None:
        names = node.get("column_names") if node.get("class") == "COLUMN_REF" else None
        if names and len(names) == 1 and names[0].startswith(_ARGUMENT_PREFIX):
            return clone(args[int(names[0][len(_ARGUMENT_PREFIX):])])
        return None

    result: Node = replace(clone(_parsed(sql)), substitute)
    return result


def literal(value: str | int | float | bool | None) -> Node:
    """A literal node holding `value`."""
    if value is None:
        kind, text = "NULL_LITERAL", ""
    elif isinstance(value, bool):
        kind, text = "BOOLEAN", "true" if value else "false"
    elif isinstance(value, int):
        kind, text = "INTEGER", str(value)
    elif isinstance(value, float):
        kind, text = "NUMERIC", repr(value)
    else:
        kind, text = "STRING", str(value)
    return {"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": 0,
            "literal": {"kind": kind, "text": text}}


def literal_value(node: Node) -> Any:
    """The value of a literal node (a negated number too), or None when `node` is no literal."""
    if node.get("class") != "CONSTANT":
        if node.get("class") == "FUNCTION" and node.get("function_name") == "-" and len(arguments(node)) == 1:
            inner = literal_value(arguments(node)[0])
            return -inner if isinstance(inner, int | float) and not isinstance(inner, bool) else None
        return None
    kind, text = node["literal"]["kind"], node["literal"]["text"]
    if kind == "STRING":
        return text
    if kind == "INTEGER":
        return int(text)
    if kind in ("NUMERIC", "DECIMAL", "DOUBLE"):
        return float(text)
    if kind == "BOOLEAN":
        return text == "true"
    return None


def literal_type(node: Node) -> PinotType | None:
    value = literal_value(node) if node.get("class") == "CONSTANT" else None
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INT if -(2**31) <= value < 2**31 else LONG
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    return None


def arguments(node: Node) -> list[Node]:
    return [argument["expression"] for argument in node.get("arguments", [])]


Typed = tuple[Node, PinotType | None]


@dataclass
class Call:
    """A Pinot function call being translated: its canonical name (no underscores, lower case), its
    node and its arguments (already translated) with their Pinot types where known."""
    name: str
    node: Node
    args: list[Node]
    types: list[PinotType | None]

    def type(self, index: int) -> PinotType | None:
        return self.types[index] if index < len(self.types) else None

    def string(self, index: int, what: str) -> str:
        """Argument `index`, which Pinot requires to be a string literal."""
        value = literal_value(self.args[index])
        if not isinstance(value, str):
            raise invalid(f"{self.name}: the {what} must be a string literal")
        return value

    def number(self, index: int, what: str) -> int | float:
        value = literal_value(self.args[index])
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise invalid(f"{self.name}: the {what} must be a numeric literal")
        return value


Rule = Callable[[Call], Typed | None]


def cast(node: Node, pinot: PinotType) -> Node:
    """`CAST(node AS <the DuckDB type of pinot>)`."""
    return template(f"CAST({{0}} AS {DUCKDB_TYPES[pinot.name]})", node)


def as_long(node: Node, pinot: PinotType | None) -> Node:
    """`node` as a Pinot LONG argument: TIMESTAMP as epoch millis, fractions truncated (Java's
    narrowing), other non-integers cast."""
    if pinot is not None and pinot.timestamp:  # (epoch_ms of an Arrow timestamp[ms] column needs the cast)
        return template("epoch_ms(CAST({0} AS TIMESTAMP))", node)
    if pinot is not None and pinot.name == "LONG":
        return node
    if pinot is not None and pinot.fractional:
        return template("CAST(trunc({0}) AS BIGINT)", node)
    if pinot is not None and pinot.name == "INT":
        return cast(node, LONG)
    return template("CAST({0} AS BIGINT)", node) if pinot is not None else node


def as_timestamp(node: Node, pinot: PinotType | None) -> Node:
    """`node` (epoch millis, or already a TIMESTAMP) as a DuckDB TIMESTAMP."""
    if pinot is not None and pinot.timestamp:
        return node
    return template("epoch_ms({0})", as_long(node, pinot))
