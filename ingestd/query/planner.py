"""Scatter/gather planning: split one SELECT into the SQL each worker runs over its own segments and
the SQL the broker runs over the union of the workers' answers.

Three plans, chosen by what the query needs:
- aggregate: COUNT/SUM/MIN/MAX/AVG/COUNT(DISTINCT) with GROUP BY are computed as partial aggregates on
  each worker (AVG as SUM and COUNT) and merged at the broker; only groups cross process boundaries
  (aggregate_plan.py).
- selection: rows matching WHERE, with LIMIT (and ORDER BY on plain columns) pushed to the workers.
- generic: anything else (windows, QUALIFY, samples, percentage limits, DISTINCT, other aggregates):
  workers return the rows of the referenced columns (filtered by WHERE unless the query samples, since
  a sample is drawn before WHERE) and the broker runs the whole query over them. Always correct, more
  data moved.
Pinot's conventions are applied first: a missing LIMIT becomes LIMIT 10; SUM, and MIN/MAX/AVG over
numeric columns, return DOUBLE, and over no rows at all answer Pinot's defaults (0, +Infinity,
-Infinity, -Infinity); `SELECT *` lists the columns in alphabetical order.
One table, no CTEs, subqueries, joins or table functions, like Pinot's single-stage engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingestd.errors import QueryError
from ingestd.query.aggregate_plan import AggregatePlanner, contains_aggregate
from ingestd.query.pinot_functions import columns_from_schema, translate
from ingestd.query.plan import QueryPlan
from ingestd.query.sql_ast import (
    Node,
    clone,
    column_ref,
    constant_int,
    expression,
    function_name,
    limit_modifier,
    order_modifier,
    parse_select,
    replace,
    to_sql_many,
    walk,
    walk_all,
    with_alias,
)
from ingestd.query.table_info import VIRTUAL_COLUMNS, TableInfo
from ingestd.query.time_pruning import time_bounds

DEFAULT_LIMIT = 10
_PLAIN_MODIFIERS = {"LIMIT_MODIFIER", "ORDER_MODIFIER", "DISTINCT_MODIFIER"}


def plan_query(sql: str, lookup: Callable[[str], TableInfo | None]) -> QueryPlan:
    """`lookup(name)` gives the table of that name (matched case-insensitively), or None."""
    node = parse_select(sql)
    _check_supported(node)
    info = _bind_table(node, lookup)
    virtual = _virtual_columns(node)
    _expand_star(node, info)
    node = translate(node, columns_from_schema(info.schema))  # Pinot's functions, once
    named = clone(node)
    json_columns = tuple(i for i, item in enumerate(node["select_list"])
                         if item.get("class") == "COLUMN_REF" and info.is_json(item["column_names"][-1]))
    node = _apply_pinot_conventions(node, info)
    node = _expand_group_by_all(node)
    node = _group_by_elements(node, info)
    kind, worker, broker, matched, counted = _plan(node, info.columns + list(virtual))
    count = _count_node(node) if kind != "aggregate" else None
    worker_sql, broker_sql, pinot_sql, named_sql, count_sql = to_sql_many(
        [worker, broker, node, named, count or node])  # one round trip to DuckDB for all five
    rest = [node["select_list"], node.get("group_expressions"), node.get("having"), node.get("modifiers")]
    return QueryPlan(info.name, kind, worker_sql, count_sql if count else "", broker_sql, pinot_sql,
                     named_sql, matched, json_columns=json_columns,
                     filter_columns=len(_column_names(node.get("where_clause"))),
                     projected_columns=len(_column_names(rest)), virtual_columns=virtual,
                     row_count_columns=counted,
                     time_range=time_bounds(node.get("where_clause"), info.time_column))


def _virtual_columns(node: Node) -> tuple[str, ...]:
    """DuckDB reads Pinot's `$segmentName` as a query parameter: make each a column reference to the
    virtual column workers add; any other parameter is an error."""
    by_lower = {name[1:].lower(): name for name in VIRTUAL_COLUMNS}
    used: list[str] = []

    def as_column(expr: Node) -> Node | None:
        if expr.get("class") != "PARAMETER":
            return None
        name = by_lower.get(str(expr.get("identifier", "")).lower())
        if name is None:
            raise QueryError(QueryError.SQL_PARSING, "query parameters are not supported (virtual columns: "
                             f"{', '.join(VIRTUAL_COLUMNS)})")
        used.append(name)
        return column_ref(name, expr.get("alias", ""))

    node.update(replace({k: v for k, v in node.items() if k != "from_table"}, as_column))
    return tuple(dict.fromkeys(used))


def _column_names(tree: object) -> set[str]:
    return {n["column_names"][-1].lower() for n in walk(tree) if n.get("class") == "COLUMN_REF"}


def _plan(node: Node, columns: list[str]) -> tuple[str, Node, Node, str, tuple[str, ...]]:
    """(kind, worker node, broker node, the worker's matched-rows column or "", the worker's columns
    that are its row count)."""
    if _needs_whole_rows(node):
        return _generic_plan(node, columns)
    if contains_aggregate([node["select_list"], node.get("having")]) or node.get("group_expressions"):
        planner = AggregatePlanner(node, columns)
        if not planner.decomposable():
            return _generic_plan(node, columns)
        return ("aggregate", planner.worker_node(), planner.broker_node(), planner.matched_column,
                planner.row_count_columns())
    return "selection", _selection_worker_node(node, columns), node, "", ()


def _check_supported(node: Node) -> None:
    if node.get("cte_map", {}).get("map"):
        raise QueryError(QueryError.SQL_PARSING, "WITH (common table expressions) is not supported: "
                         "query the table directly")
    nested = [n for n in walk_all([node["select_list"], node.get("where_clause"), node.get("having"),
                                   node.get("qualify"), node.get("modifiers"), node.get("group_expressions")])
              if n.get("class") == "SUBQUERY" or n.get("type") == "SELECT_NODE"]
    if nested:
        raise QueryError(QueryError.SQL_PARSING, "subqueries are not supported")
    for modifier in node.get("modifiers", []):
        if modifier["type"] not in _PLAIN_MODIFIERS:
            raise QueryError(QueryError.SQL_PARSING, f"{modifier['type']} is not supported")
    limit = limit_modifier(node)
    if limit is not None:
        for key in ("limit", "offset"):
            value = limit.get(key)
            if value is not None and (constant_int(value) is None or constant_int(value) < 0) and not (
                    limit.get("limit_type") == "PERCENTAGE" and key == "limit" and _is_number(value)):
                raise QueryError(QueryError.SQL_PARSING, f"{key.upper()} must be a non-negative integer")


def _is_number(expr: Node) -> bool:
    return expr.get("class") == "CONSTANT" and (expr.get("literal") or {}).get("kind") in ("INTEGER",
                                                                                         "NUMERIC")


def _bind_table(node: Node, lookup: Callable[[str], TableInfo | None]) -> TableInfo:
    source = node.get("from_table") or {}
    if source.get("type") != "BASE_TABLE":
        raise QueryError(QueryError.SQL_PARSING, "query one table by name (no joins or table functions)")
    asked = source["table_name"]
    logical = asked[: -len("_REALTIME")] if asked.upper().endswith("_REALTIME") else asked
    info = lookup(logical)
    if info is None:
        raise QueryError(QueryError.TABLE_DOES_NOT_EXIST, f"table {asked!r} does not exist")
    source["table_name"] = info.name
    source["schema_name"] = source["catalog_name"] = ""
    source["qualified_name"] = {"path": [info.name]}
    return info


def _expand_star(node: Node, info: TableInfo) -> None:
    """`SELECT *` lists the columns in alphabetical order, as Pinot does."""
    items = node["select_list"]
    if len(items) == 1 and items[0].get("class") == "STAR" and not any(
            items[0].get(key) for key in ("exclude_list", "replace_list", "rename_list", "relation_name",
                                          "columns", "expr")):
        node["select_list"] = [column_ref(name) for name in sorted(info.columns)]


_EMPTY_DEFAULTS = {"sum": "0", "min": "'Infinity'", "max": "'-Infinity'", "avg": "'-Infinity'"}


def _apply_pinot_conventions(node: Node, info: TableInfo) -> Node:
    """SUM (windowed too), and MIN/MAX/AVG of numeric columns, are DOUBLE; without GROUP BY, over no
    rows they answer Pinot's defaults instead of NULL."""
    grouped = node.get("group_expressions") or node.get("aggregate_handling") == "FORCE_AGGREGATES"
    global_aggregate = not grouped

    def as_double(expr: Node) -> Node | None:
        name = function_name(expr)
        windowed_sum = expr.get("class") == "WINDOW" and str(expr.get("function_name", "")).lower() == "sum"
        numeric = name in ("min", "max", "avg") and not expr.get("distinct") and _numeric_argument(expr, info)
        if not (name == "sum" or windowed_sum or numeric):
            return None
        cast = expression("CAST(0 AS DOUBLE)")
        cast["child"] = with_alias(expr, "")
        if global_aggregate and not windowed_sum and name in _EMPTY_DEFAULTS and not expr.get("filter"):
            wrapped = expression(f"COALESCE(NULL, CAST({_EMPTY_DEFAULTS[name]} AS DOUBLE))")
            wrapped["children"][0] = cast
            cast = wrapped
        cast["alias"] = expr.get("alias", "")
        return cast

    node = replace(node, as_double)
    if limit_modifier(node) is None:
        node.setdefault("modifiers", []).append(
            {"type": "LIMIT_MODIFIER", "limit": expression(str(DEFAULT_LIMIT)), "offset": None,
             "limit_type": "ROW_COUNT"})
    return node


def _numeric_argument(function: Node, info: TableInfo) -> bool:
    arguments = function.get("children") or [a.get("expression") for a in function.get("arguments", [])]
    return len(arguments) == 1 and arguments[0] is not None and arguments[0].get("class") == "COLUMN_REF" \
        and info.is_numeric(arguments[0]["column_names"][-1])


def _expand_group_by_all(node: Node) -> Node:
    """GROUP BY ALL groups by every select item that holds no aggregate: spell those out."""
    if node.get("aggregate_handling") != "FORCE_AGGREGATES":
        return node
    if any(n.get("class") in ("STAR", "WINDOW") for n in walk(node["select_list"])):
        return node  # the generic plan lets DuckDB expand it
    expanded = clone(node)
    groups = [with_alias(item, "") for item in node["select_list"] if not contains_aggregate(item)]
    expanded.update(aggregate_handling="STANDARD_HANDLING", group_expressions=groups,
                    group_sets=[list(range(len(groups)))] if groups else [])
    return expanded


def _group_by_elements(node: Node, info: TableInfo) -> Node:
    """GROUP BY a multi-value column groups by each of its values, as in Pinot: the key (and the same
    bare column in the select list) becomes `unnest(column)`, which DuckDB groups by directly."""
    items = node["select_list"]

    def multi_value_column(expr: Node) -> str | None:
        position = constant_int(expr)
        if position is not None and 1 <= position <= len(items):
            expr = items[position - 1]
        elif expr.get("class") == "COLUMN_REF" and len(expr["column_names"]) == 1:
            aliased = [i for i in items if i.get("alias", "").lower() == expr["column_names"][0].lower()]
            expr = aliased[0] if aliased and not info.field(expr["column_names"][0]) else expr
        if expr.get("class") == "COLUMN_REF" and info.is_multi_value(expr["column_names"][-1]):
            return str(expr["column_names"][-1])
        return None

    grouped = {name.lower(): name for g in node.get("group_expressions", [])
               if (name := multi_value_column(g)) is not None}
    if not grouped:
        return node

    def element_of(expr: Node) -> Node | None:
        if expr.get("class") != "COLUMN_REF" or expr["column_names"][-1].lower() not in grouped:
            return None
        unnested = expression("unnest(__column)")
        unnested["arguments"][0]["expression"] = column_ref(expr["column_names"][-1])
        unnested["alias"] = expr.get("alias") or expr["column_names"][-1]
        return unnested

    rewritten = clone(node)
    rewritten["select_list"] = [element_of(item) or item for item in items]
    rewritten["group_expressions"] = [
        with_alias(element_of(column_ref(name)) or {}, "") if (name := multi_value_column(g)) else g
        for g in node["group_expressions"]]
    return rewritten


def _sample(node: Node) -> Any:
    return node.get("sample") or (node.get("from_table") or {}).get("sample")


def _needs_whole_rows(node: Node) -> bool:
    """Queries whose answer depends on all rows at once: only the generic plan is correct for them."""
    limit = limit_modifier(node)
    clauses = [node["select_list"], node.get("having"), node.get("qualify"), node.get("modifiers")]
    return bool(
        node.get("qualify") or _sample(node)
        or any(m["type"] == "DISTINCT_MODIFIER" for m in node.get("modifiers", []))
        or (limit is not None and limit.get("limit_type") != "ROW_COUNT")
        or node.get("aggregate_handling", "STANDARD_HANDLING") != "STANDARD_HANDLING"
        or len(node.get("group_sets", [])) > 1
        or any(n.get("class") == "WINDOW" for n in walk(clauses))
    )


def _generic_plan(node: Node, columns: list[str]) -> tuple[str, Node, Node, str, tuple[str, ...]]:
    """Workers send the referenced columns of their rows; the broker runs the whole query."""
    sampled = bool(_sample(node))
    worker = _worker_node(node, _referenced(node, columns), [])
    broker = clone(node)
    if sampled:
        worker["where_clause"] = None  # a sample is drawn before WHERE: the broker applies both
    else:
        broker["where_clause"] = None  # applied once, by the workers
    return "generic", worker, broker, "", ()


def _count_node(node: Node) -> Node | None:
    """Each worker's count of rows matching WHERE (numDocsScanned); None when every row matches."""
    return _worker_node(node, [expression("COUNT(*)")], []) if node.get("where_clause") else None


def _referenced(node: Node, columns: list[str]) -> list[Node]:
    """Column refs for every schema column the query mentions (all of them for a `*`)."""
    by_lower = {c.lower(): c for c in columns}
    if any(n.get("class") in ("STAR", "COLUMNS") for n in walk(node)):
        wanted = list(columns)
    else:
        mentioned = {n["column_names"][-1].lower() for n in walk(node) if n.get("class") == "COLUMN_REF"}
        wanted = [by_lower[m] for m in sorted(mentioned) if m in by_lower] or columns[:1]
    return [column_ref(name) for name in wanted]


def _worker_node(node: Node, select_list: list[Node], modifiers: list[Node]) -> Node:
    """`node` reduced to its FROM and WHERE, selecting `select_list`: what a worker runs."""
    worker = clone(node)
    worker.update(select_list=select_list, modifiers=modifiers, group_expressions=[], group_sets=[],
                  having=None, qualify=None, sample=None, aggregate_handling="STANDARD_HANDLING")
    worker["from_table"]["sample"] = None
    return worker


def _selection_worker_node(node: Node, columns: list[str]) -> Node:
    """Rows matching WHERE; LIMIT (limit + offset) pushed down, ORDER BY too when it sorts plain columns."""
    limit = limit_modifier(node)
    total = constant_int(limit["limit"]) if limit else None
    offset = constant_int(limit["offset"]) if limit and limit.get("offset") else 0
    order = order_modifier(node)
    aliases = {item.get("alias", "").lower() for item in node["select_list"]} - {""}
    known = {c.lower() for c in columns}
    pushable_order = order is None or all(
        o["expression"].get("class") == "COLUMN_REF"
        and o["expression"]["column_names"][-1].lower() in known - aliases
        for o in order["orders"]
    )
    if total is None or offset is None or not pushable_order:
        return _worker_node(node, _referenced(node, columns), [])
    pushed_limit = {"type": "LIMIT_MODIFIER", "limit": expression(str(total + offset)), "offset": None,
                    "limit_type": "ROW_COUNT"}
    modifiers = ([clone(order)] if order else []) + [pushed_limit]
    return _worker_node(node, _referenced(node, columns), modifiers)
