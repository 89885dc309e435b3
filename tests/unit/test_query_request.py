"""Pinot's query options: SET prefixes, OPTION suffixes and the body's queryOptions, split with DuckDB's
tokenizer so that literals and comments holding `;` or `OPTION(` are left alone."""

from __future__ import annotations

import pytest

from ingestd.errors import QueryError
from ingestd.query.request import parse_request


def test_set_prefixes_and_option_suffix_are_removed_and_read() -> None:
    request = parse_request("SET timeoutMs = 250; SET useMultistageEngine=true; "
                            "SELECT COUNT(*) FROM t OPTION(timeoutMs=300, skipUpsert=true);")
    assert request.sql == "SELECT COUNT(*) FROM t"
    assert request.options == {"timeoutms": "300", "usemultistageengine": "true", "skipupsert": "true"}
    assert request.timeout_ms(10_000) == 300  # the suffix, written last, wins


def test_semicolons_and_option_inside_literals_and_comments_are_not_syntax() -> None:
    sql = "SELECT 'a;b', 'OPTION(timeoutMs=1)' FROM t WHERE x = ';' -- OPTION(timeoutMs=2)\n LIMIT 3"
    request = parse_request(sql)
    assert request.options == {}
    assert request.sql.startswith("SELECT 'a;b', 'OPTION(timeoutMs=1)' FROM t WHERE x = ';'")


def test_body_options_are_read_and_the_sql_text_overrides_them() -> None:
    request = parse_request("SELECT 1 FROM t OPTION(timeoutMs = '50')", "timeoutMs=900; a = b")
    assert request.options == {"timeoutms": "50", "a": "b"}
    assert parse_request("SELECT 1 FROM t", {"timeoutMs": 70}).timeout_ms(10) == 70
    assert parse_request("SELECT 1 FROM t").timeout_ms(1234) == 1234


@pytest.mark.parametrize("sql, options", [
    ("SET timeoutMs 5; SELECT 1 FROM t", None),
    ("SELECT 1 FROM t OPTION(timeoutMs)", None),
    ("SELECT 1 FROM t", "justakey"),
    ("SELECT 1 FROM t OPTION(timeoutMs=abc)", None),
    ("SELECT 1 FROM t OPTION(timeoutMs=0)", None),
])
def test_malformed_options_are_parsing_errors(sql: str, options: str | None) -> None:
    with pytest.raises(QueryError) as raised:
        parse_request(sql, options).timeout_ms(10_000)
    assert raised.value.code == QueryError.SQL_PARSING


def test_explain_plan_for_and_mysql_limit_offset_count() -> None:
    request = parse_request("EXPLAIN PLAN FOR SELECT * FROM t LIMIT 5, 10 OPTION(timeoutMs=100)")
    assert request.explain is True
    assert request.sql == "SELECT * FROM t LIMIT 10 OFFSET 5"
    quoted = parse_request("select 'LIMIT 1, 2' from t limit 3, 4;")
    assert quoted.sql == "select 'LIMIT 1, 2' from t LIMIT 4 OFFSET 3"
    plain = parse_request("SELECT a FROM t LIMIT 7")
    assert (plain.sql, plain.explain) == ("SELECT a FROM t LIMIT 7", False)
