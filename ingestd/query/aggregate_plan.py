"""Partial aggregation: an aggregate query split into what each worker computes per group and how the
broker merges the workers' partial rows (COUNT → SUM of counts, AVG → SUM / SUM of counts, COUNT
DISTINCT → the union of per-worker value lists, MIN/MAX/SUM → themselves)."""

from __future__ import annotations

import functools

import duckdb

from ingestd.query.sql_ast import (
    Node,
    clone,
    column_ref,
    constant_int,
    expression,
    function_name,
    order_modifier,
    replace,
    shape,
    walk,
    with_alias,
)

MATCHED_COLUMN = "__matched"
_DECOMPOSABLE = {"count_star", "count", "sum", "min", "max", "avg"}


@functools.cache
def aggregate_names() -> frozenset[str]:
    """Every aggregate function DuckDB knows (asked once, lazily: importing this runs no query)."""
    with duckdb.connect(config={"enable_external_access": False}) as connection:
        rows = connection.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'aggregate'"
        ).fetchall()
    return frozenset(name.lower() for (name,) in rows) | {"count_star"}


def contains_aggregate(node: object) -> bool:
    names = aggregate_names()
    return any(function_name(n) in names for n in walk(node))


class AggregatePlanner:
    matched_column = MATCHED_COLUMN

    def __init__(self, node: Node, columns: list[str]) -> None:
        self.node = node
        self.columns = {c.lower() for c in columns}
        self.groups = [self._resolve_group(g) for g in node.get("group_expressions", [])]
        self.group_index = {shape(g): k for k, g in enumerate(self.groups)}
        names = aggregate_names()
        found = [n for n in walk([node["select_list"], node.get("having"), order_modifier(node)])
                 if function_name(n) in names]
        self.aggregates = list({shape(a): a for a in found}.values())

    def decomposable(self) -> bool:
        return len(self.node.get("group_sets", [])) <= 1 and all(
            function_name(a) in _DECOMPOSABLE and not a.get("filter") and not a["order_bys"]["orders"]
            and (not a.get("distinct") or function_name(a) == "count")
            for a in self.aggregates
        ) and not any(n.get("class") in ("WINDOW", "STAR", "COLUMNS") for n in walk(self.node["select_list"]))

    def _resolve_group(self, group: Node) -> Node:
        """GROUP BY 1 and GROUP BY alias name select-list items; resolve them to the expression."""
        items = self.node["select_list"]
        position = constant_int(group)
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
        worker = clone(self.node)
        worker.update(select_list=select, modifiers=[], having=None, qualify=None, sample=None,
                      group_expressions=clone(self.groups),
                      group_sets=[list(range(len(self.groups)))] if self.groups else [])
        return worker

    def row_count_columns(self) -> tuple[str, ...]:
        """When every partial of the worker's part is COUNT(*) over all its rows (no WHERE, no GROUP BY),
        their names: a worker answers them from its row count, as Pinot answers COUNT(*) from segment
        metadata, without a scan. Empty otherwise."""
        if self.groups or self.node.get("where_clause") or any(
                function_name(a) != "count_star" for a in self.aggregates):
            return ()
        return (MATCHED_COLUMN, *(f"__a{j}_0" for j in range(len(self.aggregates))))

    def broker_node(self) -> Node:
        merges = {shape(a): expression(self._partials(j, a)[1]) for j, a in enumerate(self.aggregates)}

        def rewrite(expr: Node) -> Node | None:
            key = shape(expr)
            if key in merges:
                return with_alias(merges[key], expr.get("alias", ""))
            if key in self.group_index:
                return column_ref(f"__g{self.group_index[key]}", expr.get("alias", ""))
            return None

        broker = clone(self.node)
        for key in ("select_list", "having", "modifiers"):
            broker[key] = replace(broker.get(key), rewrite)
        broker["group_expressions"] = [column_ref(f"__g{k}") for k in range(len(self.groups))]
        broker["where_clause"] = None  # applied by the workers; partials hold no raw columns
        return broker


def _renamed(function: Node, name: str) -> Node:
    renamed = clone(function)
    renamed["function_name"] = name
    renamed["qualified_name"] = {"path": [name]}
    renamed["distinct"] = function.get("distinct", False) and name == "list"
    return renamed
