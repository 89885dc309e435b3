"""Pinot's SQL functions translated into DuckDB expressions, on the syntax tree: `translate` returns a
copy of a SELECT node in which every Pinot function (names compared as Pinot does: underscores
removed, case ignored), Pinot's CASTs involving TIMESTAMP, TIMESTAMP-vs-epoch-millis comparisons and
multi-value predicates (WHERE tags = 'a': any element matches) mean what they mean in Pinot.

The tree is rewritten bottom-up, and each expression's Pinot type is inferred on the way (columns from
the table's schema, literals, and the result types of translated functions), because Pinot reads a
TIMESTAMP as its epoch millis wherever a LONG is expected. Functions this module does not know are
left as they are: DuckDB binds them or reports them unknown (errorCode 700). Call `translate` once
per query: a translated tree translated again would, e.g., turn `now()` into epoch millis twice.
The functions, their translations and what still differs are listed in docs/pinot-functions.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingestd.config.schema import Schema
from ingestd.query.pinot_aggregates import aggregate_rule, inherit_filter
from ingestd.query.pinot_json_arrays import JSON_ARRAY_FUNCTIONS
from ingestd.query.pinot_sql import (
    BOOLEAN,
    DOUBLE,
    LONG,
    STRING,
    Call,
    Node,
    PinotType,
    Rule,
    arguments,
    as_long,
    cast,
    literal_type,
    pinot_type_of_name,
    template,
)
from ingestd.query.pinot_strings import STRING_FUNCTIONS
from ingestd.query.pinot_time import TIME_FUNCTIONS
from ingestd.query.sql_ast import clone, column_ref, parse_select, shape, to_sql

__all__ = ["ColumnInfo", "canonical_name", "columns_from_schema", "multi_value_column", "translate"]

_SCALAR_RULES: dict[str, Rule] = {}
for _table in (TIME_FUNCTIONS, STRING_FUNCTIONS, JSON_ARRAY_FUNCTIONS):
    assert not set(_table) & set(_SCALAR_RULES), set(_table) & set(_SCALAR_RULES)
    _SCALAR_RULES.update(_table)

_ELEMENT = "__pinot_m"  # the lambda parameter standing for one element of a multi-value column
_ANY = f"len(list_filter({{0}}, lambda {_ELEMENT}: {{1}})) > 0"  # {1} holds for some element of {0}
_FLIPPED = {"COMPARE_LESSTHAN": "COMPARE_GREATERTHAN", "COMPARE_GREATERTHAN": "COMPARE_LESSTHAN",
            "COMPARE_LESSTHANOREQUALTO": "COMPARE_GREATERTHANOREQUALTO",
            "COMPARE_GREATERTHANOREQUALTO": "COMPARE_LESSTHANOREQUALTO"}
_LIKE_OPERATORS = {"~~": "~~", "~~*": "~~*", "!~~": "~~", "!~~*": "~~*"}  # name → the positive operator
_ANY_ELEMENT_FUNCTIONS = frozenset({"regexplike"})
_DISTINCT_AGGREGATES = {"count": "distinctcount", "sum": "distinctsum", "avg": "distinctavg"}
_BOOLEAN_OPERATORS = frozenset({"OPERATOR_NOT", "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL"})
# java.sql.Timestamp.toString(): yyyy-MM-dd HH:mm:ss.f, the fraction without trailing zeros (at least ".0")
_TIMESTAMP_TEXT = ("strftime({0}, '%Y-%m-%d %H:%M:%S') || CASE WHEN date_part('millisecond', {0}) % 1000 = 0 "
                   "THEN '.0' ELSE '.' || rtrim(lpad(CAST(date_part('millisecond', {0}) % 1000 AS VARCHAR), "
                   "3, '0'), '0') END")


@dataclass(frozen=True)
class ColumnInfo:
    """A column as the translator needs it: its Pinot data type name (INT, LONG, FLOAT, DOUBLE,
    BIG_DECIMAL, BOOLEAN, TIMESTAMP, STRING, JSON, BYTES) and whether it is multi-valued."""
    data_type: str
    multi_value: bool = False


def columns_from_schema(schema: Schema) -> dict[str, ColumnInfo]:
    """Every field of a Pinot schema as a ColumnInfo, by column name."""
    return {f.name: ColumnInfo(f.data_type.value, not f.single_value) for f in schema.fields}


def canonical_name(name: str) -> str:
    """Pinot's canonical function name (FunctionRegistry.canonicalize): no underscores, lower case."""
    return name.replace("_", "").lower()


def multi_value_column(expr: Node, columns: Mapping[str, ColumnInfo]) -> str | None:
    """The column's name when `expr` is a bare reference to a multi-value column, else None."""
    if expr.get("class") != "COLUMN_REF":
        return None
    name = expr["column_names"][-1]
    info = {key.lower(): (key, value) for key, value in columns.items()}.get(name.lower())
    return info[0] if info is not None and info[1].multi_value else None


def translate(node: Node, columns: Mapping[str, ColumnInfo]) -> Node:
    """A copy of SELECT `node` with Pinot's functions and semantics spelled in DuckDB. Select items
    that change and have no alias are aliased with their text as written, so the answer's column
    names stay the user's (e.g. `distinctcount(studentID)`)."""
    translator = _Translator(columns)
    result = clone(node)
    for key in ("select_list", "group_expressions", "qualify", "modifiers"):
        result[key] = translator.expr(node.get(key), predicate=False)
    for key in ("where_clause", "having"):
        result[key] = translator.expr(node.get(key), predicate=True)
    for before, item in zip(node.get("select_list") or [], result.get("select_list") or [], strict=True):
        if not before.get("alias") and shape(before) != shape(item):
            item["alias"] = expression_text(before)
    return result


def expression_text(expr: Node) -> str:
    """DuckDB's text of an expression: the name DuckDB gives an unaliased select item."""
    select = parse_select("SELECT 1")
    unaliased = clone(expr)
    unaliased["alias"] = ""
    select["select_list"] = [unaliased]
    return to_sql(select)[len("SELECT "):]


class _Translator:
    def __init__(self, columns: Mapping[str, ColumnInfo]) -> None:
        self.columns = {name.lower(): info for name, info in columns.items()}
        self.types: dict[int, PinotType | None] = {}
        self._held: list[Node] = []  # keeps typed nodes alive so their ids stay unique

    def typed(self, node: Node, pinot: PinotType | None) -> Node:
        self.types[id(node)] = pinot
        self._held.append(node)
        return node

    def type_of(self, node: Any) -> PinotType | None:
        return self.types.get(id(node)) if isinstance(node, dict) else None

    def expr(self, node: Any, predicate: bool) -> Any:
        """`node` translated bottom-up; `predicate`: inside WHERE, HAVING or an aggregate's FILTER."""
        if isinstance(node, list):
            return [self.expr(item, predicate) for item in node]
        if not isinstance(node, dict):
            return node
        kind = node.get("class")
        if kind == "SUBQUERY":
            return node
        inner_predicate = predicate and kind != "LAMBDA"
        rebuilt = {key: self.expr(value, inner_predicate or key == "filter") for key, value in node.items()}
        return self.rewrite(rebuilt, predicate) if kind is not None else rebuilt

    def rewrite(self, node: Node, predicate: bool) -> Node:
        kind = node["class"]
        if kind == "COLUMN_REF":
            info = self.columns.get(node["column_names"][-1].lower())
            return self.typed(node, PinotType(info.data_type, info.multi_value) if info else None)
        if kind == "CONSTANT":
            return self.typed(node, literal_type(node))
        if kind == "FUNCTION":
            return self.function(node, predicate)
        if kind == "CAST":
            return self.cast(node)
        if kind == "COMPARISON":
            return self.comparison(node, predicate)
        if kind == "OPERATOR" and node["type"] in ("COMPARE_IN", "COMPARE_NOT_IN"):
            return self.in_list(node, predicate)
        if kind == "BETWEEN":
            return self.between(node, predicate)
        if kind == "CONJUNCTION" or node.get("type") in _BOOLEAN_OPERATORS:
            return self.typed(node, BOOLEAN)
        return node

    def function(self, node: Node, predicate: bool) -> Node:
        name = node["function_name"]
        args = arguments(node)
        types = [self.type_of(arg) for arg in args]
        if node.get("is_operator"):
            if predicate and name in _LIKE_OPERATORS and types and _is_mv(types[0]):
                positive = dict(node, function_name=_LIKE_OPERATORS[name],  # NOT LIKE: no element matches
                                qualified_name={"path": [_LIKE_OPERATORS[name]]})
                matched = self.any_element(positive, args[0], 0)
                return self.typed(matched if _LIKE_OPERATORS[name] == name else template("NOT {0}", matched),
                                  BOOLEAN)
            return self.typed(node, _arithmetic_type(name, types))
        canonical = canonical_name(name)
        if node.get("distinct") and canonical in _DISTINCT_AGGREGATES:  # as Pinot's CalciteSqlParser does
            canonical = _DISTINCT_AGGREGATES[canonical]
        if predicate and canonical in _ANY_ELEMENT_FUNCTIONS and types and _is_mv(types[0]):
            return self.typed(self.any_element(node, args[0], 0), BOOLEAN)
        aggregate = aggregate_rule(canonical)
        rule = aggregate or _SCALAR_RULES.get(canonical)
        result = rule(Call(canonical, node, args, types)) if rule is not None else None
        if result is None:
            return self.typed(node, _builtin_type(name, types))
        translated, pinot = result
        if aggregate is not None:
            translated = inherit_filter(translated, node)
        translated["alias"] = node.get("alias", "")
        return self.typed(translated, pinot)

    def any_element(self, node: Node, multi_value: Node, index: int) -> Node:
        """`node` (a predicate whose argument `index` is a multi-value column) true when it holds for
        any element: Pinot's rule for inclusive predicates (=, IN, ranges, LIKE, REGEXP_LIKE)."""
        element = clone(node)
        element["alias"] = ""
        element["arguments"][index]["expression"] = column_ref(_ELEMENT)
        if canonical_name(node["function_name"]) == "regexplike":
            element_args = arguments(element)
            translated = _SCALAR_RULES["regexplike"](Call("regexplike", element, element_args,
                                                          [STRING] * len(element_args)))
            element = translated[0] if translated is not None else element
        return template(_ANY, multi_value, element)

    def cast(self, node: Node) -> Node:
        type_expr = node["type_expr"]
        target = pinot_type_of_name(type_expr.get("type_name", "")) if not type_expr.get("children") else None
        if target is None:
            return self.typed(node, None)
        replacement = _pinot_cast(node["child"], self.type_of(node["child"]), target, type_expr["type_name"])
        if replacement is None:
            return self.typed(node, target)
        replacement["alias"] = node.get("alias", "")
        return self.typed(replacement, target)

    def comparison(self, node: Node, predicate: bool) -> Node:
        left, right = node["left"], node["right"]
        left_type, right_type = self.type_of(left), self.type_of(right)
        node["left"], node["right"] = _millis_as_timestamp(left, left_type, right_type), \
            _millis_as_timestamp(right, right_type, left_type)
        if predicate and _is_mv(left_type) != _is_mv(right_type):
            on_left = _is_mv(left_type)
            values, value = (node["left"], node["right"]) if on_left else (node["right"], node["left"])
            operator = node["type"] if on_left else _FLIPPED.get(node["type"], node["type"])
            if operator == "COMPARE_EQUAL":
                return self.typed(template("list_contains({0}, {1})", values, value), BOOLEAN)
            if operator == "COMPARE_NOTEQUAL":  # exclusive: no element equals the value
                return self.typed(template("NOT list_contains({0}, {1})", values, value), BOOLEAN)
            element = dict(node, type=operator, left=column_ref(_ELEMENT), right=value, alias="")
            return self.typed(template(_ANY, values, element), BOOLEAN)
        return self.typed(node, BOOLEAN)

    def in_list(self, node: Node, predicate: bool) -> Node:
        subject, *values = node["children"]
        subject_type = self.type_of(subject)
        values = [_millis_as_timestamp(v, self.type_of(v), subject_type) for v in values]
        node["children"] = [subject, *values]
        if predicate and _is_mv(subject_type):
            listed = template("list_value({0})", values[0])
            listed["arguments"] = [{"name": "", "expression": value} for value in values]
            negated = node["type"] == "COMPARE_NOT_IN"
            shape_ = "NOT list_has_any({0}, {1})" if negated else "list_has_any({0}, {1})"
            return self.typed(template(shape_, subject, listed), BOOLEAN)
        return self.typed(node, BOOLEAN)

    def between(self, node: Node, predicate: bool) -> Node:
        subject_type = self.type_of(node["input"])
        for key in ("lower", "upper"):
            node[key] = _millis_as_timestamp(node[key], self.type_of(node[key]), subject_type)
        if predicate and _is_mv(subject_type):
            element = dict(node, input=column_ref(_ELEMENT), alias="")
            return self.typed(template(_ANY, node["input"], element), BOOLEAN)
        return self.typed(node, BOOLEAN)


def _pinot_cast(child: Node, source: PinotType | None, target: PinotType, written: str) -> Node | None:
    """CAST as Pinot does it where DuckDB differs: numbers to TIMESTAMP are epoch millis, a TIMESTAMP
    is its epoch millis as a number and java.sql.Timestamp text as a string, fractions narrow to
    integers by truncation; BIG_DECIMAL and BYTES are Pinot's type names."""
    numeric = source is not None and (source.integral or source.fractional)
    if target.timestamp and numeric:
        return template("epoch_ms({0})", as_long(child, source))
    if (source is not None and source.timestamp) or (target.integral and numeric):
        if target.name in ("INT", "LONG", "FLOAT", "DOUBLE", "BIG_DECIMAL"):
            return cast(as_long(child, source), target)
        if target.name == "STRING":
            return template(_TIMESTAMP_TEXT, child)
    if written.upper() in ("BIG_DECIMAL", "BYTES"):
        return cast(child, target)
    return None


def _is_mv(pinot: PinotType | None) -> bool:
    return pinot is not None and pinot.multi_value


def _millis_as_timestamp(value: Node, value_type: PinotType | None, other: PinotType | None) -> Node:
    """A number compared with a TIMESTAMP is epoch millis in Pinot."""
    if other is not None and other.timestamp and value_type is not None and (value_type.integral
                                                                            or value_type.fractional):
        return template("epoch_ms({0})", as_long(value, value_type))
    return value


def _arithmetic_type(operator: str, types: list[PinotType | None]) -> PinotType | None:
    if operator == "||":
        return STRING
    if operator not in ("+", "-", "*", "/", "%", "//") or any(t is None or t.multi_value for t in types):
        return None
    if all(t is not None and t.integral for t in types):
        return DOUBLE if operator == "/" else LONG
    if all(t is not None and (t.integral or t.fractional) for t in types):
        return DOUBLE
    return None


def _builtin_type(name: str, types: list[PinotType | None]) -> PinotType | None:
    """The Pinot type of a few DuckDB functions left as they are (enough to type their uses)."""
    lowered = name.lower()
    if lowered in ("count", "count_star"):
        return LONG
    if lowered in ("sum", "avg"):
        return DOUBLE
    if lowered in ("min", "max", "any_value", "first", "last") and types:
        return types[0]
    if lowered in ("epoch_ms",) and types and types[0] is not None:
        return LONG if types[0].timestamp else PinotType("TIMESTAMP")
    return None
