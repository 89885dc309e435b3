"""A Pinot query request → the SQL DuckDB parses, its options, and whether it asks for the plan.

Pinot's syntax around the SQL: `SET key = value;` statements before the query, an `OPTION(key=value,
...)` suffix after it, the request body's `queryOptions` ("key=value;key=value"), an `EXPLAIN PLAN FOR`
prefix, and MySQL's `LIMIT offset, count` (rewritten to `LIMIT count OFFSET offset`).

The SQL is split with DuckDB's own tokenizer, so a `;`, `OPTION` or `LIMIT` inside a string literal or a
comment is never mistaken for syntax. Option keys compare case-insensitively, as in Pinot. Options
written in the SQL text win over the request body's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ingestd.errors import QueryError

TIMEOUT_KEY = "timeoutms"
MAX_TIMEOUT_MS = 3_600_000
Token = tuple[int, str, str]  # position, kind, text


@dataclass(frozen=True)
class QueryRequest:
    sql: str  # the query alone, in DuckDB's syntax
    options: Mapping[str, str] = field(default_factory=dict)  # lower-cased keys
    explain: bool = False  # EXPLAIN PLAN FOR: answer the plan, not the rows

    def timeout_ms(self, default_ms: int) -> int:
        raw = self.options.get(TIMEOUT_KEY)
        if raw is None:
            return default_ms
        try:
            value = int(float(raw))
        except ValueError:
            raise QueryError(QueryError.SQL_PARSING, f"timeoutMs must be a number, got {raw!r}") from None
        if not 0 < value <= MAX_TIMEOUT_MS:
            raise QueryError(QueryError.SQL_PARSING, f"timeoutMs must be from 1 to {MAX_TIMEOUT_MS}")
        return value


def parse_request(sql: str, body_options: Any = None) -> QueryRequest:
    """The query, its options and EXPLAIN flag from the SQL text and the body's `queryOptions`."""
    options = _body_options(body_options)
    tokens = _tokens(sql)
    start, prefixed = _set_statements(sql, tokens)
    end, suffixed = _option_suffix(sql, tokens, start)
    options.update(prefixed)
    options.update(suffixed)
    body = [t for t in tokens if start <= t[0] < end]
    explain = [t[2].upper() for t in body[:3]] == ["EXPLAIN", "PLAN", "FOR"]
    if explain:
        start, body = body[3][0] if len(body) > 3 else end, body[3:]
    text = _limit_offset_count(sql, body, start, end)
    return QueryRequest(text.strip().rstrip(";").strip(), options, explain)


def _body_options(raw: Any) -> dict[str, str]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return {str(k).strip().lower(): str(v).strip() for k, v in raw.items()}
    if not isinstance(raw, str):
        raise QueryError(QueryError.SQL_PARSING, 'queryOptions must be a string "key=value;key=value"')
    options = {}
    for item in filter(None, (part.strip() for part in raw.split(";"))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise QueryError(QueryError.SQL_PARSING, f"queryOptions entry {item!r} is not key=value")
        options[key.strip().lower()] = value.strip()
    return options


def _tokens(sql: str) -> list[Token]:
    """(position, type, text) of each token; comments left out."""
    try:
        raw = duckdb.tokenize(sql)
    except duckdb.Error as exc:
        raise QueryError(QueryError.SQL_PARSING, str(exc)) from exc
    tokens = []
    for index, (position, kind) in enumerate(raw):
        end = raw[index + 1][0] if index + 1 < len(raw) else len(sql)
        name = str(kind).rsplit(".", 1)[-1]
        if name != "comment":
            tokens.append((position, name, sql[position:end].strip()))
    return tokens


def _literal(text: str, kind: str) -> str:
    if kind == "string_const" and len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


def _set_statements(sql: str, tokens: list[Token]) -> tuple[int, dict[str, str]]:
    """Leading `SET key = value;` statements: where the query starts, and the options they set."""
    options: dict[str, str] = {}
    i = 0
    while i < len(tokens) and tokens[i][2].upper() == "SET":
        window = tokens[i:i + 5]
        if (len(window) < 5 or window[2][2] != "=" or window[4][2] != ";"
                or window[1][1] not in ("identifier", "keyword")):
            raise QueryError(QueryError.SQL_PARSING, "expected SET <option> = <value>; before the query")
        options[window[1][2].strip('"').lower()] = _literal(window[3][2], window[3][1])
        i += 5
    return (tokens[i][0] if i < len(tokens) else len(sql)), options


def _option_suffix(sql: str, tokens: list[Token], start: int) -> tuple[int, dict[str, str]]:
    """A trailing `OPTION(key=value, ...)`: where the query ends, and the options it sets."""
    rest = [t for t in tokens if t[0] >= start]
    while rest and rest[-1][2] == ";":
        rest.pop()
    if len(rest) < 3 or rest[-1][2] != ")":
        return len(sql), {}
    opening = next((k for k in range(len(rest) - 2, -1, -1)
                    if rest[k][2] == "(" and k > 0 and rest[k - 1][2].upper() == "OPTION"), None)
    if opening is None:
        return len(sql), {}
    inner = rest[opening + 1:-1]
    options: dict[str, str] = {}
    for k in range(0, len(inner), 4):
        entry = inner[k:k + 4]
        separator_ok = len(entry) == 3 or (len(entry) == 4 and entry[3][2] == ",")
        if len(entry) < 3 or entry[1][2] != "=" or not separator_ok:
            raise QueryError(QueryError.SQL_PARSING, "expected OPTION(key=value, ...) at the end")
        options[entry[0][2].strip('"').lower()] = _literal(entry[2][2], entry[2][1])
    return rest[opening - 1][0], options


def _limit_offset_count(sql: str, body: list[Token], start: int, end: int) -> str:
    """The query text from `start` to `end`, with a trailing `LIMIT a, b` written `LIMIT b OFFSET a`."""
    tail = [t for t in body if t[2] != ";"]
    if (len(tail) >= 4 and tail[-4][2].upper() == "LIMIT" and tail[-2][2] == ","
            and tail[-3][1] == tail[-1][1] == "numeric_const"):
        offset, count = tail[-3][2], tail[-1][2]
        return f"{sql[start:tail[-4][0]]}LIMIT {count} OFFSET {offset}"
    return sql[start:end]
