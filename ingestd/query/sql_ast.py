"""DuckDB's own SQL parser as a library: SQL ⇄ JSON syntax tree, plus small helpers over the tree.

The planner rewrites trees, never SQL strings, and turns them back into SQL with DuckDB itself, so
quoting, precedence and dialect details stay DuckDB's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import duckdb

from ingestd.errors import QueryError

Node = dict[str, Any]
_LOCATION_KEYS = ("query_location", "query_location_length", "alias")

_parser = duckdb.connect(config={"enable_external_access": False})


def parse_select(sql: str) -> Node:
    """The SELECT node of a single-statement query; QueryError(150) for anything else."""
    tree = json.loads(_parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise QueryError(QueryError.SQL_PARSING, tree.get("error_message", "cannot parse the query"))
    statements = tree["statements"]
    if len(statements) != 1:
        raise QueryError(QueryError.SQL_PARSING, "exactly one SELECT statement is expected")
    node = statements[0]["node"]
    if node.get("type") != "SELECT_NODE":
        raise QueryError(QueryError.SQL_PARSING, "only a plain SELECT is supported (no UNION, CTE, VALUES)")
    return node


def to_sql(node: Node) -> str:
    tree = {"error": False, "statements": [{"node": node, "named_param_map": []}]}
    return str(_parser.execute("SELECT json_deserialize_sql(?)", [json.dumps(tree)]).fetchall()[0][0])


def expression(sql_text: str) -> Node:
    """The tree of one expression, e.g. `SUM("__a0")`."""
    return parse_select(f"SELECT {sql_text}")["select_list"][0]


def column_ref(name: str, alias: str = "") -> Node:
    return {"class": "COLUMN_REF", "type": "COLUMN_REF", "alias": alias, "query_location": 0,
            "column_names": [name]}


def walk(node: Any) -> Iterator[Node]:
    """Every expression-like dict under `node` (depth first)."""
    if isinstance(node, dict):
        if "class" in node:
            yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def replace(node: Any, rewrite: Callable[[Node], Node | None]) -> Any:
    """A copy of `node` where each expression for which `rewrite` returns a node is replaced by it."""
    if isinstance(node, dict):
        if "class" in node:
            replacement = rewrite(node)
            if replacement is not None:
                return replacement
        return {key: replace(value, rewrite) for key, value in node.items()}
    if isinstance(node, list):
        return [replace(item, rewrite) for item in node]
    return node


def shape(node: Node) -> str:
    """A key equal for expressions that mean the same (ignoring position, alias, identifier case)."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _LOCATION_KEYS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value.lower() if isinstance(value, str) else value

    return json.dumps(strip(node), sort_keys=True)


def with_alias(node: Node, alias: str) -> Node:
    renamed = copy.deepcopy(node)
    renamed["alias"] = alias
    return renamed


def function_name(node: Node) -> str | None:
    return node["function_name"].lower() if node.get("class") == "FUNCTION" else None


def limit_modifier(node: Node) -> Node | None:
    return next((m for m in node.get("modifiers", []) if m["type"] == "LIMIT_MODIFIER"), None)


def order_modifier(node: Node) -> Node | None:
    return next((m for m in node.get("modifiers", []) if m["type"] == "ORDER_MODIFIER"), None)
