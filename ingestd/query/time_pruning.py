"""Time-column pruning: the bounds a WHERE clause puts on the table's time column, so workers skip the
sealed segments whose [min, max] time lies outside (their metadata already holds both).

Only what certainly holds is used: comparisons of the bare time column with integer literals (`=`,
`<`, `<=`, `>`, `>=`, BETWEEN) joined by AND at the top of the WHERE. Anything else (OR, functions,
other columns) bounds nothing, so no segment that could match is ever skipped.
"""

from __future__ import annotations

from ingestd.query.sql_ast import Node, constant_int

_FLIPPED = {"COMPARE_LESSTHAN": "COMPARE_GREATERTHAN", "COMPARE_GREATERTHAN": "COMPARE_LESSTHAN",
            "COMPARE_LESSTHANOREQUALTO": "COMPARE_GREATERTHANOREQUALTO",
            "COMPARE_GREATERTHANOREQUALTO": "COMPARE_LESSTHANOREQUALTO", "COMPARE_EQUAL": "COMPARE_EQUAL"}


def time_bounds(where: Node | None, time_column: str) -> tuple[int | None, int | None] | None:
    """(lowest, highest) time a matching row can have, either None when open; None when unbounded."""
    low: int | None = None
    high: int | None = None
    for conjunct in _conjuncts(where):
        for bound_low, bound_high in _bounds_of(conjunct, time_column.lower()):
            low = bound_low if low is None or (bound_low is not None and bound_low > low) else low
            high = bound_high if high is None or (bound_high is not None and bound_high < high) else high
    return None if low is None and high is None else (low, high)


def _conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    if node.get("class") == "CONJUNCTION" and node.get("type") == "CONJUNCTION_AND":
        return [part for child in node.get("children", []) for part in _conjuncts(child)]
    return [node]


def _is_time(expr: Node, time_column: str) -> bool:
    return expr.get("class") == "COLUMN_REF" and expr["column_names"][-1].lower() == time_column


def _bounds_of(node: Node, time_column: str) -> list[tuple[int | None, int | None]]:
    if node.get("class") == "BETWEEN" and _is_time(node.get("input") or {}, time_column):
        low, high = constant_int(node.get("lower")), constant_int(node.get("upper"))
        return [(low, high)] if low is not None and high is not None else []
    if node.get("class") != "COMPARISON":
        return []
    kind, left, right = node.get("type", ""), node.get("left") or {}, node.get("right") or {}
    if _is_time(right, time_column) and kind in _FLIPPED:
        kind, left, right = _FLIPPED[kind], right, left
    value = constant_int(right)
    if not _is_time(left, time_column) or value is None:
        return []
    return {
        "COMPARE_EQUAL": [(value, value)],
        "COMPARE_GREATERTHAN": [(value + 1, None)],
        "COMPARE_GREATERTHANOREQUALTO": [(value, None)],
        "COMPARE_LESSTHAN": [(None, value - 1)],
        "COMPARE_LESSTHANOREQUALTO": [(None, value)],
    }.get(kind, [])
