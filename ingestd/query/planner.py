"""Scatter/gather planning: split one SELECT into the SQL each worker runs over its own segments and
the SQL the broker runs over the union of the workers' answers.

Three plans, chosen by what the query needs:
- aggregate: COUNT/SUM/MIN/MAX/AVG/COUNT(DISTINCT) with GROUP BY are computed as partial aggregates on
  each worker (AVG as SUM and COUNT) and merged at the broker; only groups cross process boundaries.
- selection: rows matching WHERE, with LIMIT (and ORDER BY on plain columns) pushed to the workers.
- generic: anything else (windows, other aggregates, DISTINCT): workers return the filtered rows of the
  referenced columns and the broker runs the whole query over them. Always correct, more data moved.
Pinot's conventions are applied first: a missing LIMIT becomes LIMIT 10, SUM returns DOUBLE.
"""

from __future__ import annotations

import copy
from typing import Any

import duckdb

from ingestd.errors import QueryError
from ingestd.query.plan import QueryPlan
from ingestd.query.sql_ast import (
    Node,
    column_ref,
    expression,
    function_name,
    limit_modifier,
    order_modifier,
    parse_select,
    replace,
    shape,
    to_sql,
    walk,
    with_alias,
)

DEFAULT_LIMIT = 10
MATCHED_COLUMN = "__matched"
_ALL_AGGREGATES = frozenset(
    name.lower() for (name,) in duckdb.connect().execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'aggregate'"
    ).fetchall()
) | {"count_star"}
_DECOMPOSABLE = {"count_star", "count", "sum", "min", "max", "avg"}


def plan_query(sql: str, resolve_table: Any, columns_of: Any) -> QueryPlan:
    """`resolve_table(name)` gives the logical table name or None; `columns_of(table)` its columns."""
    node = parse_select(sql)
    table = _bind_table(node, resolve_table)
    if any(n.get("class") == "SUBQUERY" for n in walk(node)):
        raise QueryError(QueryError.SQL_PARSING, "subqueries are not supported")
    node = _apply_pinot_conventions(node)
    columns = list(columns_of(table))
    planner = _AggregatePlanner(node, columns) if _is_aggregate(node) else None
    if planner is not None and planner.decomposable():
        worker, broker, kind = planner.worker_node(), planner.broker_node(), "aggregate"
    elif planner is None and not _has_distinct(node):
        worker, broker, kind = _selection_worker_node(node, columns), node, "selection"
    else:
        worker, broker, kind = _worker_node(node, _referenced(node, columns), []), node, "generic"
    if kind == "aggregate":  # the partials count the matching rows as they go: no second scan
        return QueryPlan(table, kind, to_sql(worker), "", to_sql(broker), to_sql(node), MATCHED_COLUMN)
    count_sql = to_sql(_worker_node(node, [expression("COUNT(*)")], [])) if node.get("where_clause") else ""
    return QueryPlan(table, kind, to_sql(worker), count_sql, to_sql(broker), to_sql(node))


def _bind_table(node: Node, resolve_table: Any) -> str:
    source = node.get("from_table") or {}
    if source.get("type") != "BASE_TABLE":
        raise QueryError(QueryError.SQL_PARSING, "query one table by name (no joins or table functions)")
    asked = source["table_name"]
    logical = asked[: -len("_REALTIME")] if asked.upper().endswith("_REALTIME") else asked
    table = resolve_table(logical)
    if table is None:
        raise QueryError(QueryError.TABLE_DOES_NOT_EXIST, f"table {asked!r} does not exist")
    source["table_name"] = table
    source["schema_name"] = source["catalog_name"] = ""
    source["qualified_name"] = {"path": [table]}
    return str(table)


def _apply_pinot_conventions(node: Node) -> Node:
    def sum_as_double(expr: Node) -> Node | None:
        if function_name(expr) != "sum":
            return None
        cast = expression("CAST(0 AS DOUBLE)")
        cast["child"], cast["alias"] = with_alias(expr, ""), expr.get("alias", "")
        return cast

    node = replace(node, sum_as_double)
    if limit_modifier(node) is None:
        node.setdefault("modifiers", []).append(
            {"type": "LIMIT_MODIFIER", "limit": expression(str(DEFAULT_LIMIT)), "offset": None,
             "limit_type": "ROW_COUNT"})
    return node


def _is_aggregate(node: Node) -> bool:
    return bool(node.get("group_expressions")) or any(
        function_name(n) in _ALL_AGGREGATES for n in walk([node["select_list"], node.get("having")])
    )


def _has_distinct(node: Node) -> bool:
    return any(m["type"] == "DISTINCT_MODIFIER" for m in node.get("modifiers", []))


def _referenced(node: Node, columns: list[str]) -> list[Node]:
    """Column refs for every schema column the query mentions (all of them for a `*`)."""
    by_lower = {c.lower(): c for c in columns}
    if any(n.get("class") == "STAR" for n in walk(node)):
        wanted = list(columns)
    else:
        mentioned = {n["column_names"][-1].lower() for n in walk(node) if n.get("class") == "COLUMN_REF"}
        wanted = [by_lower[m] for m in sorted(mentioned) if m in by_lower] or columns[:1]
    return [column_ref(name) for name in wanted]


def _worker_node(node: Node, select_list: list[Node], modifiers: list[Node]) -> Node:
    worker = copy.deepcopy(node)
    worker.update(select_list=select_list, modifiers=modifiers, group_expressions=[], group_sets=[],
                  having=None, qualify=None, aggregate_handling="STANDARD_HANDLING")
    return worker


def _selection_worker_node(node: Node, columns: list[str]) -> Node:
    """Rows matching WHERE; LIMIT (limit + offset) pushed down, ORDER BY too when it sorts plain columns."""
    limit = limit_modifier(node)
    total = _constant_int(limit["limit"]) if limit else None
    offset = _constant_int(limit["offset"]) if limit and limit.get("offset") else 0
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
    modifiers = ([copy.deepcopy(order)] if order else []) + [pushed_limit]
    return _worker_node(node, _referenced(node, columns), modifiers)


def _constant_int(expr: Node | None) -> int | None:
    literal = (expr or {}).get("literal") or {}
    return int(literal["text"]) if literal.get("kind") == "INTEGER" else None


class _AggregatePlanner:
    def __init__(self, node: Node, columns: list[str]) -> None:
        self.node = node
        self.columns = {c.lower() for c in columns}
        self.groups = [self._resolve_group(g) for g in node.get("group_expressions", [])]
        self.group_index = {shape(g): k for k, g in enumerate(self.groups)}
        found = [n for n in walk([node["select_list"], node.get("having"), order_modifier(node)])
                 if function_name(n) in _ALL_AGGREGATES]
        self.aggregates = list({shape(a): a for a in found}.values())

    def decomposable(self) -> bool:
        return not _has_distinct(self.node) and len(self.node.get("group_sets", [])) <= 1 and all(
            function_name(a) in _DECOMPOSABLE and not a.get("filter") and not a["order_bys"]["orders"]
            and (not a.get("distinct") or function_name(a) == "count")
            for a in self.aggregates
        ) and not any(n.get("class") in ("WINDOW", "STAR") for n in walk(self.node["select_list"]))

    def _resolve_group(self, group: Node) -> Node:
        """GROUP BY 1 and GROUP BY alias name select-list items; resolve them to the expression."""
        items = self.node["select_list"]
        position = _constant_int(group)
        if position is not None and 1 <= position <= len(items):
            return with_alias(items[position - 1], "")
        if group.get("class") == "COLUMN_REF" and len(group["column_names"]) == 1:
            name = group["column_names"][0].lower()
            if name not in self.columns:
                for item in items:
                    if item.get("alias", "").lower() == name:
                        return with_alias(item, "")
        return group

    def _partials(self, j: int, agg: Node) -> tuple[list[Node], str]:
        """The partial aggregates a worker computes for aggregate j, and the broker's merge of them."""
        name = function_name(agg)
        p0, p1 = f'"__a{j}_0"', f'"__a{j}_1"'
        if name == "avg":
            return [_renamed(agg, "sum"), _renamed(agg, "count")], f"(SUM({p0})::DOUBLE / SUM({p1}))"
        if name == "count" and agg.get("distinct"):
            return [_renamed(agg, "list")], f"LEN(LIST_DISTINCT(FLATTEN(LIST({p0}))))::BIGINT"
        if name in ("count", "count_star"):
            return [agg], f"COALESCE(SUM({p0}), 0)::BIGINT"
        return [agg], f"{name.upper()}({p0})"

    def worker_node(self) -> Node:
        select = [with_alias(g, f"__g{k}") for k, g in enumerate(self.groups)]
        select.append(with_alias(expression("COUNT(*)"), MATCHED_COLUMN))
        for j, agg in enumerate(self.aggregates):
            partials, _ = self._partials(j, agg)
            select += [with_alias(p, f"__a{j}_{m}") for m, p in enumerate(partials)]
        worker = _worker_node(self.node, select, [])
        worker["group_expressions"] = copy.deepcopy(self.groups)
        worker["group_sets"] = [list(range(len(self.groups)))] if self.groups else []
        return worker

    def broker_node(self) -> Node:
        merges = {shape(a): expression(self._partials(j, a)[1]) for j, a in enumerate(self.aggregates)}

        def rewrite(expr: Node) -> Node | None:
            key = shape(expr)
            if key in merges:
                return with_alias(merges[key], expr.get("alias", ""))
            if key in self.group_index:
                return column_ref(f"__g{self.group_index[key]}", expr.get("alias", ""))
            return None

        broker = copy.deepcopy(self.node)
        for key in ("select_list", "having", "modifiers"):
            broker[key] = replace(broker.get(key), rewrite)
        broker["group_expressions"] = [column_ref(f"__g{k}") for k in range(len(self.groups))]
        broker["where_clause"] = None  # applied by the workers; partials hold no raw columns
        return broker


def _renamed(function: Node, name: str) -> Node:
    renamed = copy.deepcopy(function)
    renamed["function_name"] = name
    renamed["qualified_name"] = {"path": [name]}
    renamed["distinct"] = function.get("distinct", False) and name == "list"
    return renamed
