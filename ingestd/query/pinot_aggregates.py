"""Pinot's aggregation functions as DuckDB aggregate expressions (AggregationFunctionFactory and the
aggregation function classes of pinot-core): distinct counts, percentiles with Pinot's pick rule,
MODE, MINMAXRANGE, FIRST/LASTWITHTIME, the multi-value (…MV) family, and Pinot's names for
aggregates DuckDB spells differently. Result types are Pinot's (getFinalResultColumnType).

Where the translation is COUNT/SUM/MIN/MAX/AVG/COUNT(DISTINCT) or arithmetic over them, the planner's
partial aggregation applies; the others run in the generic plan.
"""

from __future__ import annotations

import re

from ingestd.query.pinot_sql import (
    BOOLEAN,
    DOUBLE,
    INT,
    LONG,
    STRING,
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
from ingestd.query.sql_ast import clone, walk

# Aggregates the templates below use: they inherit the Pinot call's FILTER (WHERE ...) clause.
_TEMPLATE_AGGREGATES = frozenset({"count", "count_star", "sum", "min", "max", "avg", "list", "histogram",
                                  "arg_max", "arg_min", "quantile_cont", "string_agg", "any_value",
                                  "bool_and", "bool_or", "var_pop", "var_samp", "stddev_pop", "stddev_samp",
                                  "covar_pop", "covar_samp"})
_NEGATIVE_INFINITY = "CAST('-inf' AS DOUBLE)"


def _is_mv(call: Call, index: int = 0) -> bool:
    pinot = call.type(index)
    return pinot is not None and pinot.multi_value


def _aggregate(shape: str, result: PinotType | None, arity: tuple[int, ...] = (1,)) -> Rule:
    def rule(call: Call) -> Typed | None:
        if len(call.args) not in arity:
            return None
        return template(shape, *call.args), result
    return rule


def _distinct_count(result: PinotType, multi_value: bool = False) -> Rule:
    """Pinot's sketches (HLL, ULL, theta, CPC) estimate; here every distinct count is exact."""
    def rule(call: Call) -> Typed | None:
        if not call.args or (len(call.args) > 1 and call.name.startswith("distinctcounttheta")):
            return None  # theta-sketch set expressions are not supported
        if multi_value or _is_mv(call):
            return cast(template("len(list_distinct(flatten(list({0}))))", call.args[0]), result), result
        return cast(template("count(DISTINCT {0})", call.args[0]), result), result
    return rule


def _values(call: Call) -> tuple[Node, Node]:
    """The sorted DOUBLE values (NULLs last) of argument 0, multi-valued or not, and how many."""
    if _is_mv(call) or call.name.endswith("mv"):
        values = template("list_sort(flatten(list(CAST({0} AS DOUBLE[]))), 'ASC', 'NULLS LAST')",
                          call.args[0])
        return values, template("CAST(COALESCE(sum(len({0})), 0) AS BIGINT)", call.args[0])
    return (template("list_sort(list(CAST({0} AS DOUBLE)), 'ASC', 'NULLS LAST')", call.args[0]),
            template("count({0})", call.args[0]))


def _pick(call: Call, percentile: float) -> Node:
    """PercentileAggregationFunction: the sorted values' element at (int) (n * p / 100), the last at 100."""
    values, count = _values(call)
    index = template("least(CAST(floor(CAST({0} AS DOUBLE) * {1} / 100) AS BIGINT), {0} - 1) + 1",
                     count, literal(float(percentile)))
    return template("{0}[{1}]", values, index)


_PERCENTILE = re.compile(r"^percentile(est|tdigest|kll|smarttdigest)?(\d+)?(mv)?$")


def _percentile(call: Call) -> Typed | None:
    match = _PERCENTILE.match(call.name)
    if not match:
        return None
    kind, legacy = match.group(1) or "", match.group(2)
    if legacy is not None:
        if len(call.args) != 1 or kind in ("kll", "smarttdigest"):
            return None
        percentile: float = int(legacy)
    else:
        if len(call.args) < 2 or (len(call.args) > 2 and kind not in ("tdigest", "kll", "smarttdigest")):
            return None
        percentile = call.number(1, "percentile")
    if not 0 <= percentile <= 100:
        raise invalid(f"{call.name}: invalid percentile {percentile} (0 to 100)")
    if kind == "est":  # QuantileDigest over longs; empty: Long.MIN_VALUE
        picked = template("CAST(trunc({0}) AS BIGINT)", _pick(call, percentile))
        return template("COALESCE({0}, -9223372036854775807 - 1)", picked), LONG
    if kind in ("tdigest", "smarttdigest"):  # an estimate in Pinot: here the exact interpolated quantile
        values, _ = _values(call)
        quantile = template("list_aggregate({0}, 'quantile_cont', {1})", values,
                            literal(percentile / 100)) if _is_mv(call) or call.name.endswith("mv") \
            else template("quantile_cont(CAST({0} AS DOUBLE), {1})", call.args[0], literal(percentile / 100))
        return template("COALESCE({0}, CAST('NaN' AS DOUBLE))", quantile), DOUBLE
    if kind == "kll":
        return _pick(call, percentile), DOUBLE
    return template(f"COALESCE({{0}}, {_NEGATIVE_INFINITY})", _pick(call, percentile)), DOUBLE


def _min_max_range(call: Call) -> Typed | None:
    if len(call.args) != 1:
        return None
    if _is_mv(call) or call.name.endswith("mv"):
        shape = "CAST(max(list_max({0})) AS DOUBLE) - CAST(min(list_min({0})) AS DOUBLE)"
    else:
        shape = "CAST(max({0}) AS DOUBLE) - CAST(min({0}) AS DOUBLE)"
    return template(f"COALESCE({shape}, {_NEGATIVE_INFINITY})", call.args[0]), DOUBLE


_MODE_REDUCERS = {
    # most frequent first (negated counts sort ascending), then the smallest / largest value
    "MIN": "list_sort(list_transform(map_entries(histogram(CAST({0} AS DOUBLE))), "
           "lambda __pinot_e: {'c': -CAST(__pinot_e.value AS BIGINT), 'v': __pinot_e.key}))[1].v",
    "MAX": "-list_sort(list_transform(map_entries(histogram(CAST({0} AS DOUBLE))), "
           "lambda __pinot_e: {'c': -CAST(__pinot_e.value AS BIGINT), 'v': -__pinot_e.key}))[1].v",
    "AVG": "list_avg(list_transform(list_filter(map_entries(histogram(CAST({0} AS DOUBLE))), "
           "lambda __pinot_e: __pinot_e.value = list_max(map_values(histogram(CAST({0} AS DOUBLE))))), "
           "lambda __pinot_e: __pinot_e.key))",
}


def _mode(call: Call) -> Typed | None:
    """MODE(x[, 'MIN'|'MAX'|'AVG']): the most frequent value; ties reduced by MIN (default), MAX, AVG."""
    if len(call.args) not in (1, 2):
        return None
    reducer = call.string(1, "multi-mode reducer").upper() if len(call.args) == 2 else "MIN"
    if reducer not in _MODE_REDUCERS:
        raise invalid(f"mode: unknown multi-mode reducer {reducer!r} (MIN, MAX, AVG)")
    return template(f"COALESCE({_MODE_REDUCERS[reducer]}, {_NEGATIVE_INFINITY})", call.args[0]), DOUBLE


def _with_time(function: str) -> Rule:
    """LASTWITHTIME / FIRSTWITHTIME(value, time, 'dataType'): the value at the largest (smallest) time,
    as dataType (BOOLEAN, INT, LONG, FLOAT, DOUBLE, STRING). Ties: Pinot keeps the last row scanned."""
    def rule(call: Call) -> Typed | None:
        if len(call.args) != 3:
            return None
        pinot = result_type(call.string(2, "data type"))
        if pinot.name not in ("BOOLEAN", "INT", "LONG", "FLOAT", "DOUBLE", "STRING"):
            raise invalid(f"{call.name}: unsupported data type {pinot.name}")
        return cast(template(f"{function}({{0}}, {{1}})", call.args[0], call.args[1]), pinot), pinot
    return rule


def _array_agg(call: Call) -> Typed | None:
    """ARRAYAGG(x, 'dataType'[, isDistinct])."""
    if len(call.args) not in (2, 3):
        return None
    pinot = result_type(call.string(1, "data type"))
    distinct = len(call.args) == 3 and str(call.args[2].get("literal", {}).get("text", "")).lower() == "true"
    shape = "list(DISTINCT {0})" if distinct else "list({0})"
    return template(shape, call.args[0]), PinotType(pinot.name, multi_value=True)


AGGREGATE_FUNCTIONS: dict[str, Rule] = {
    "distinctcount": _distinct_count(INT),
    "distinctcountbitmap": _distinct_count(INT),
    "distinctcountoffheap": _distinct_count(INT),
    "distinctcountsmarthll": _distinct_count(INT),
    "distinctcountsmarthllplus": _distinct_count(INT),
    "distinctcountsmartull": _distinct_count(INT),
    "distinctcounthll": _distinct_count(LONG),
    "distinctcounthllplus": _distinct_count(LONG),
    "distinctcountull": _distinct_count(LONG),
    "distinctcountthetasketch": _distinct_count(LONG),
    "distinctcountcpcsketch": _distinct_count(LONG),
    "segmentpartitioneddistinctcount": _distinct_count(LONG),
    "fasthll": _distinct_count(LONG),
    "distinctcountmv": _distinct_count(INT, multi_value=True),
    "distinctcountbitmapmv": _distinct_count(INT, multi_value=True),
    "distinctcounthllmv": _distinct_count(LONG, multi_value=True),
    "distinctcounthllplusmv": _distinct_count(LONG, multi_value=True),
    "distinctsum": _aggregate("CAST(sum(DISTINCT {0}) AS DOUBLE)", DOUBLE),
    "distinctavg": _aggregate("CAST(avg(DISTINCT {0}) AS DOUBLE)", DOUBLE),
    "distinctsummv": _aggregate("CAST(list_sum(list_distinct(flatten(list({0})))) AS DOUBLE)", DOUBLE),
    "distinctavgmv": _aggregate("CAST(list_avg(list_distinct(flatten(list({0})))) AS DOUBLE)", DOUBLE),
    "countmv": _aggregate("CAST(COALESCE(sum(len({0})), 0) AS BIGINT)", LONG),
    "summv": _aggregate("CAST(sum(list_sum({0})) AS DOUBLE)", DOUBLE),
    "minmv": _aggregate("CAST(min(list_min({0})) AS DOUBLE)", DOUBLE),
    "maxmv": _aggregate("CAST(max(list_max({0})) AS DOUBLE)", DOUBLE),
    "avgmv": _aggregate("CAST(sum(list_sum({0})) AS DOUBLE) / sum(len({0}))", DOUBLE),
    "minmaxrange": _min_max_range,
    "minmaxrangemv": _min_max_range,
    "mode": _mode,
    "lastwithtime": _with_time("arg_max"),
    "firstwithtime": _with_time("arg_min"),
    "minstring": _aggregate("min({0})", STRING),
    "maxstring": _aggregate("max({0})", STRING),
    "minlong": _aggregate("CAST(min({0}) AS BIGINT)", LONG),
    "maxlong": _aggregate("CAST(max({0}) AS BIGINT)", LONG),
    "varpop": _aggregate("CAST(var_pop({0}) AS DOUBLE)", DOUBLE),
    "varsamp": _aggregate("CAST(var_samp({0}) AS DOUBLE)", DOUBLE),
    "stddevpop": _aggregate("CAST(stddev_pop({0}) AS DOUBLE)", DOUBLE),
    "stddevsamp": _aggregate("CAST(stddev_samp({0}) AS DOUBLE)", DOUBLE),
    "covarpop": _aggregate("CAST(covar_pop({0}, {1}) AS DOUBLE)", DOUBLE, (2,)),
    "covarsamp": _aggregate("CAST(covar_samp({0}, {1}) AS DOUBLE)", DOUBLE, (2,)),
    "booland": _aggregate("bool_and({0})", BOOLEAN),
    "boolor": _aggregate("bool_or({0})", BOOLEAN),
    "anyvalue": _aggregate("any_value({0})", None),
    "exprmin": _aggregate("arg_min({0}, {1})", None, (2,)),
    "exprmax": _aggregate("arg_max({0}, {1})", None, (2,)),
    "listagg": _aggregate("string_agg({0}, {1})", STRING, (2,)),
    "arrayagg": _array_agg,
}


def aggregate_rule(name: str) -> Rule | None:
    """The rule for a canonical aggregate name (PERCENTILE… names are matched by pattern)."""
    rule = AGGREGATE_FUNCTIONS.get(name)
    if rule is None and _PERCENTILE.match(name):
        return _percentile
    return rule


def inherit_filter(translated: Node, original: Node) -> Node:
    """Give the aggregates of a translation the FILTER (WHERE ...) of the Pinot aggregate call."""
    condition = original.get("filter")
    if condition:
        for node in walk(translated):
            if node.get("class") == "FUNCTION" and node.get("function_name") in _TEMPLATE_AGGREGATES:
                node["filter"] = clone(condition)
    return translated
