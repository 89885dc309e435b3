"""Pinot's JSON functions (JsonExtractScalarTransformFunction, JsonExtractKeyTransformFunction,
JsonFunctions) and array / multi-value functions (ArrayFunctions, arrayLength, valueIn...) as DuckDB
expressions over JSON text and Arrow lists.
"""

from __future__ import annotations

import re

from ingestd.query.pinot_sql import (
    BOOLEAN,
    DOUBLE,
    INT,
    LONG,
    STRING,
    STRING_MV,
    Call,
    Node,
    PinotType,
    Rule,
    Typed,
    cast,
    invalid,
    literal,
    result_type,
    template,
)

_MISSING = "Cannot resolve JSON path on some records. Consider setting a default value."
# The JSON value at the path, NULL where the document is not JSON (Pinot: unresolved).
_RAW = "CASE WHEN json_valid({0}) THEN json_extract({0}, {1}) END"
_TEXT = "CASE WHEN json_valid({0}) THEN json_extract_string({0}, {1}) END"
_SCALARS = {
    "STRING": _TEXT,
    "JSON": "CAST(" + _RAW + " AS VARCHAR)",
    "INT": f"CAST(CASE WHEN json_type({_RAW}) = 'DOUBLE' THEN trunc(CAST({_TEXT} AS DOUBLE)) "
           f"ELSE CAST({_TEXT} AS BIGINT) END AS INTEGER)",
    "LONG": f"CASE WHEN json_type({_RAW}) = 'DOUBLE' THEN CAST(trunc(CAST({_TEXT} AS DOUBLE)) AS BIGINT) "
            f"ELSE CAST({_TEXT} AS BIGINT) END",
    "FLOAT": f"CAST({_TEXT} AS FLOAT)",
    "DOUBLE": f"CAST({_TEXT} AS DOUBLE)",
    "BIG_DECIMAL": f"CAST({_TEXT} AS DECIMAL(38, 18))",
    "BOOLEAN": f"CASE json_type({_RAW}) WHEN 'BOOLEAN' THEN CAST({_TEXT} AS BOOLEAN) "
               f"WHEN 'VARCHAR' THEN lower({_TEXT}) = 'true' OR {_TEXT} = '1' "
               f"ELSE CAST({_TEXT} AS DOUBLE) <> 0 END",
    "TIMESTAMP": f"CASE WHEN json_type({_RAW}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') "
                 f"THEN epoch_ms(CAST(trunc(CAST({_TEXT} AS DOUBLE)) AS BIGINT)) "
                 f"WHEN regexp_full_match({_TEXT}, '-?[0-9]+') THEN epoch_ms(CAST({_TEXT} AS BIGINT)) "
                 f"ELSE CAST({_TEXT} AS TIMESTAMP) END",
}
_ARRAY_ELEMENTS = {"INT": "INTEGER", "LONG": "BIGINT", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE",
                   "BIG_DECIMAL": "DECIMAL(38, 18)", "BOOLEAN": "BOOLEAN", "STRING": "VARCHAR",
                   "TIMESTAMP": "TIMESTAMP"}


def _json_path(call: Call, index: int) -> Node:
    """A JsonPath (Jayway) as DuckDB's: `$['key']` brackets become `$."key"`."""
    path = call.string(index, "JSON path").strip()
    if not path.startswith("$"):
        raise invalid(f"{call.name}: a JSON path starts with '$', got {path!r}")
    converted = re.sub(r"\[\s*'((?:[^'\\]|\\.)*)'\s*\]",
                       lambda m: '."' + m.group(1).replace('"', '\\"') + '"', path)
    return literal(converted)


def _json_extract_scalar(call: Call) -> Typed | None:
    """jsonExtractScalar(json, path, resultType[, default]): unresolved values take the default, and
    without one fail the query, as in Pinot."""
    if len(call.args) not in (3, 4):
        return None
    name = call.string(2, "result type").strip().upper()
    path = _json_path(call, 1)
    if name.endswith("_ARRAY"):
        element = _ARRAY_ELEMENTS.get(name[: -len("_ARRAY")])
        if element is None:
            raise invalid(f"{call.name}: unsupported result type {name}")
        value = template(f"CAST({_RAW} AS {element}[])", call.args[0], path)
        return template("COALESCE({0}, [])", value), PinotType(name[: -len("_ARRAY")], multi_value=True)
    pinot = result_type(name)
    if pinot.name not in _SCALARS:
        raise invalid(f"{call.name}: unsupported result type {name}")
    value = template(_SCALARS[pinot.name], call.args[0], path)
    fallback = cast(call.args[3], pinot) if len(call.args) == 4 else template("error({0})", literal(_MISSING))
    return template("COALESCE({0}, {1})", value, fallback), pinot


_KEY_PATH = re.compile(r"^\$((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.\*$")


def _json_extract_key(call: Call) -> Typed | None:
    """jsonExtractKey(json, '$.a.*'): the paths of an object's keys as Jayway prints them ($['a']['k']).
    Only object wildcards of plain dotted paths are supported."""
    if len(call.args) != 2:
        return None
    path = call.string(1, "JSON path").strip()
    match = _KEY_PATH.match(path)
    if not match:
        raise invalid(f"jsonExtractKey: only paths like '$.*' or '$.a.b.*' are supported, got {path!r}")
    keys = [key for key in match.group(1).split(".") if key]
    prefix = "$" + "".join(f"['{key}']" for key in keys)
    parent = literal("$" + "".join(f'."{key}"' for key in keys))
    shape = ("COALESCE(list_transform(CASE WHEN json_valid({0}) AND json_type({0}, {1}) = 'OBJECT' "
             "THEN json_keys({0}, {1}) END, lambda __pinot_k: {2} || '[''' || __pinot_k || ''']'), [])")
    return template(shape, call.args[0], parent, literal(prefix)), STRING_MV


def _json_path_value(shape: str, result: PinotType) -> Rule:
    """jsonPathString / jsonPathLong / jsonPathDouble(json, path[, default])."""
    def rule(call: Call) -> Typed | None:
        if len(call.args) not in (2, 3):
            return None
        value = template(shape, call.args[0], _json_path(call, 1))
        if len(call.args) == 3:
            return template("COALESCE({0}, {1})", value, cast(call.args[2], result)), result
        return value, result
    return rule


def _element_at(default: Node, result: PinotType) -> Rule:
    """arrayElementAt…(array, index): 1-based; out of range gives Pinot's null placeholder."""
    def rule(call: Call) -> Typed | None:
        if len(call.args) != 2:
            return None
        shape = "CASE WHEN {1} > 0 THEN COALESCE({0}[{1}], {2}) ELSE {2} END"
        return template(shape, call.args[0], call.args[1], default), result
    return rule


def _list(shape: str, result: PinotType | None, arity: int = 1, element: bool = False) -> Rule:
    """A list function; `element`: the result has argument 0's element type (multi-valued)."""
    def rule(call: Call) -> Typed | None:
        if len(call.args) != arity:
            return None
        pinot = call.type(0)
        typed = PinotType(pinot.name, multi_value=True) if element and pinot is not None else result
        return template(shape, *call.args), typed
    return rule


def _value_in(call: Call) -> Typed | None:
    """valueIn(mv, v1, v2...): the elements of mv among the values, in mv's order."""
    if len(call.args) < 2:
        return None
    values = template("[{0}]", call.args[1])
    for value in call.args[2:]:
        values = template("list_append({0}, {1})", values, value)
    pinot = call.type(0)
    shape = "list_filter({0}, lambda __pinot_v: list_contains({1}, __pinot_v))"
    return template(shape, call.args[0], values), pinot


_FIRST_OCCURRENCES = ("list_filter({0}, lambda __pinot_x, __pinot_i: "
                      "list_position({0}, __pinot_x) = __pinot_i)")
_REMOVE_FIRST = ("list_filter({0}, lambda __pinot_x, __pinot_i: "
                 "__pinot_i <> COALESCE(list_position({0}, {1}), 0))")

JSON_ARRAY_FUNCTIONS: dict[str, Rule] = {
    "jsonextractscalar": _json_extract_scalar,
    "jsonextractkey": _json_extract_key,
    "jsonpathstring": _json_path_value(_TEXT, STRING),
    "jsonpathlong": _json_path_value(_SCALARS["LONG"], LONG),
    "jsonpathdouble": _json_path_value(_SCALARS["DOUBLE"], DOUBLE),
    "jsonpathexists": _list("COALESCE(json_valid({0}) AND json_exists({0}, {1}), false)", BOOLEAN, 2),
    "arraylength": _list("CAST(len({0}) AS INTEGER)", INT),
    "cardinality": _list("CAST(len({0}) AS INTEGER)", INT),
    "arraysum": _list("CAST(list_sum({0}) AS DOUBLE)", DOUBLE),
    "arraysumint": _list("CAST(list_sum({0}) AS INTEGER)", INT),
    "arraysumlong": _list("CAST(list_sum({0}) AS BIGINT)", LONG),
    "arrayaverage": _list("CAST(list_avg({0}) AS DOUBLE)", DOUBLE),
    "arraymin": _list("list_min({0})", None),
    "arraymax": _list("list_max({0})", None),
    "valuein": _value_in,
    "arraytostring": _list("array_to_string({0}, {1})", STRING, 2),
}
for _suffix, _default, _type in (("int", 0, INT), ("long", 0, LONG), ("float", 0.0, PinotType("FLOAT")),
                                 ("double", 0.0, DOUBLE), ("string", "", STRING)):
    JSON_ARRAY_FUNCTIONS[f"arrayelementat{_suffix}"] = _element_at(literal(_default), _type)
    JSON_ARRAY_FUNCTIONS[f"arraycontains{_suffix}"] = _list("list_contains({0}, {1})", BOOLEAN, 2)
    JSON_ARRAY_FUNCTIONS[f"arrayindexof{_suffix}"] = _list(
        "CAST(COALESCE(list_position({0}, {1}), 0) - 1 AS INTEGER)", INT, 2)
    JSON_ARRAY_FUNCTIONS[f"arrayreverse{_suffix}"] = _list("list_reverse({0})", None, element=True)
    JSON_ARRAY_FUNCTIONS[f"arraysort{_suffix}"] = _list("list_sort({0})", None, element=True)
    JSON_ARRAY_FUNCTIONS[f"arraydistinct{_suffix}"] = _list(_FIRST_OCCURRENCES, None, element=True)
    JSON_ARRAY_FUNCTIONS[f"arrayremove{_suffix}"] = _list(_REMOVE_FIRST, None, 2, element=True)
    JSON_ARRAY_FUNCTIONS[f"arrayslice{_suffix}"] = _list("list_slice({0}, {1} + 1, {2})", None, 3,
                                                         element=True)
    JSON_ARRAY_FUNCTIONS[f"arrayconcat{_suffix}"] = _list("list_concat({0}, {1})", None, 2, element=True)
    JSON_ARRAY_FUNCTIONS[f"arrayunion{_suffix}"] = _list(
        _FIRST_OCCURRENCES.replace("{0}", "list_concat({0}, {1})"), None, 2, element=True)
    JSON_ARRAY_FUNCTIONS[f"arraypushback{_suffix}"] = _list("list_append({0}, {1})", None, 2, element=True)
    JSON_ARRAY_FUNCTIONS[f"arraypushfront{_suffix}"] = _list("list_prepend({1}, {0})", None, 2, element=True)
