"""DuckDB's own SQL parser as a library: SQL ⇄ JSON syntax tree, plus small helpers over the tree.

The planner rewrites trees, never SQL strings, and turns them back into SQL with DuckDB itself, so
quoting, precedence and dialect details stay DuckDB's. Parsing never executes anything, and each
thread parses on its own connection: HTTP handlers run concurrently and a DuckDB connection is not
safe to share between threads.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import orjson

from ingestd.errors import QueryError

Node = dict[str, Any]
_LOCATION_KEYS = frozenset({"query_location", "query_location_length", "alias"})
# Identifiers are case-insensitive in DuckDB (quoted or not); literal values are not.
_IDENTIFIER_KEYS = frozenset({"column_names", "function_name", "path", "schema", "catalog", "type_name",
                              "table_name", "schema_name", "catalog_name"})
_local = threading.local()


def _parser() -> duckdb.DuckDBPyConnection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = duckdb.connect(config={"enable_external_access": False, "threads": 1})
        _local.connection = connection
    return connection


def parse_statement(sql: str) -> Node:
    """The node of a single-statement query (any kind); QueryError(150) when it does not parse."""
    tree = json.loads(_parser().execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise QueryError(QueryError.SQL_PARSING, tree.get("error_message", "cannot parse the query"))
    statements = tree["statements"]
    if len(statements) != 1:
        raise QueryError(QueryError.SQL_PARSING, "exactly one SELECT statement is expected")
    return dict(statements[0]["node"])


def parse_select(sql: str) -> Node:
    """The SELECT node of a single-statement query; QueryError(150) for anything else."""
    node = parse_statement(sql)
    if node.get("type") != "SELECT_NODE":
        raise QueryError(QueryError.SQL_PARSING, "only a plain SELECT is supported (no UNION, VALUES)")
    return node


def to_sql(node: Node) -> str:
    tree = {"error": False, "statements": [{"node": node, "named_param_map": []}]}
    return str(_parser().execute("SELECT json_deserialize_sql(?)", [json.dumps(tree)]).fetchall()[0][0])


def to_sql_many(nodes: list[Node]) -> list[str]:
    """`to_sql` of each node, in one round trip to DuckDB."""
    trees = [json.dumps({"error": False, "statements": [{"node": n, "named_param_map": []}]}) for n in nodes]
    columns = ", ".join(["json_deserialize_sql(?)"] * len(trees))
    return [str(sql) for sql in _parser().execute(f"SELECT {columns}", trees).fetchall()[0]]


def clone(tree: Any) -> Any:
    """A deep copy of a JSON syntax tree (several times faster than copy.deepcopy)."""
    return orjson.loads(orjson.dumps(tree))


def expression(sql_text: str) -> Node:
    """The tree of one expression, e.g. `SUM("__a0")` (the planner's own templates: parsed once)."""
    return clone(_parsed_expression(sql_text))


@functools.lru_cache(maxsize=1024)
def _parsed_expression(sql_text: str) -> Node:
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


def walk_all(node: Any) -> Iterator[Node]:
    """Every dict under `node`, expressions and query nodes alike (depth first)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk_all(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_all(item)


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
    """A key equal for expressions that mean the same: position and alias ignored, identifiers compared
    case-insensitively, literals exactly ('Maths' and 'MATHS' are different expressions)."""
    def strip(value: Any, identifier: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: strip(v, k in _IDENTIFIER_KEYS) for k, v in value.items() if k not in _LOCATION_KEYS}
        if isinstance(value, list):
            return [strip(v, identifier) for v in value]
        return value.lower() if identifier and isinstance(value, str) else value

    return json.dumps(strip(node), sort_keys=True)


def with_alias(node: Node, alias: str) -> Node:
    renamed = clone(node)
    renamed["alias"] = alias
    return renamed


def function_name(node: Node) -> str | None:
    return node["function_name"].lower() if node.get("class") == "FUNCTION" else None


def limit_modifier(node: Node) -> Node | None:
    return next((m for m in node.get("modifiers", []) if m["type"] == "LIMIT_MODIFIER"), None)


def order_modifier(node: Node) -> Node | None:
    return next((m for m in node.get("modifiers", []) if m["type"] == "ORDER_MODIFIER"), None)


def constant_int(expr: Node | None) -> int | None:
    """The value of an integer literal (possibly negated), else None."""
    if expr is None:
        return None
    literal = expr.get("literal") or {}
    if expr.get("class") == "CONSTANT" and literal.get("kind") == "INTEGER":
        return int(literal["text"])
    return None
