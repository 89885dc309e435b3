"""Pinot's SQL functions answer what Pinot answers: queries are translated (ingestd.query.pinot_functions)
and run by ingestd's DuckDB engine over an Arrow table laid out as ingestd stores a Pinot schema's
rows; every expected value was worked out by hand from Pinot's documented semantics and source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
import pytest

from ingestd.columns import arrow_schema, dictionary_columns
from ingestd.config import parse_schema
from ingestd.errors import QueryError
from ingestd.query.aggregate_plan import AggregatePlanner
from ingestd.query.engine import ArrowSqlEngine
from ingestd.query.pinot_functions import columns_from_schema, multi_value_column, translate
from ingestd.query.sql_ast import expression, parse_select, to_sql

SCHEMA = parse_schema({
    "schemaName": "events",
    "dimensionFieldSpecs": [
        {"name": "name", "dataType": "STRING"},
        {"name": "tags", "dataType": "STRING", "singleValueField": False},
        {"name": "nums", "dataType": "INT", "singleValueField": False},
        {"name": "payload", "dataType": "JSON"},
    ],
    "metricFieldSpecs": [{"name": "score", "dataType": "DOUBLE"}, {"name": "qty", "dataType": "INT"}],
    "dateTimeFieldSpecs": [
        {"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"},
        {"name": "created", "dataType": "TIMESTAMP", "format": "TIMESTAMP", "granularity": "1:MILLISECONDS"},
    ],
})
COLUMNS = columns_from_schema(SCHEMA)
TS = [1572678000000,  # 2019-11-02T07:00:00Z, a Saturday
      1571900400000,  # 2019-10-24T07:00:00Z
      1572678123456,  # 2019-11-02T07:02:03.456Z
      1577836799999,  # 2019-12-31T23:59:59.999Z, a Tuesday in ISO week 1 of 2020
      1546300800000]  # 2019-01-01T00:00:00Z, a Tuesday
ROWS = {
    "name": ["alpha", "beta", "gamma", "delta", "alpha"],
    "tags": [["a", "b"], ["c"], ["a", "c", "d"], ["e"], ["b"]],
    "nums": [[1, 5], [3], [2, 2], [9], [4]],
    "payload": ['{"user": {"id": 7, "name": "ann"}, "amount": 12.5, "ok": true, "list": [1, 2, 3]}',
                '{"user": {"id": 8.9, "name": "bob"}, "amount": 3}', '{"user": {"id": 9}}', "{}",
                '{"amount": "7"}'],
    "score": [1.0, 2.0, 3.0, 4.0, 10.0],
    "qty": [2, 3, 2, 3, 5],
    "ts": TS,
    "created": TS,
}


def events() -> pa.Table:
    schema = arrow_schema(SCHEMA, dictionary_columns(SCHEMA, "ts", frozenset()))
    return pa.table({f.name: pa.array(ROWS[f.name], pa.timestamp("ms") if f.name == "created" else None)
                     .cast(f.type) for f in schema}, schema=schema)


ENGINE = ArrowSqlEngine()
TABLE = events()


def query(sql: str, table: pa.Table = TABLE) -> pa.Table:
    return ENGINE.run(to_sql(translate(parse_select(sql), COLUMNS)), "events", table)


def rows(sql: str, table: pa.Table = TABLE) -> list[tuple[Any, ...]]:
    answer = query(sql, table)
    return list(zip(*(answer.column(i).to_pylist() for i in range(answer.num_columns)), strict=True))


def one(sql: str) -> tuple[Any, ...]:
    (row,) = rows(sql)
    return row


# ---------------------------------------------------------------- aggregations


def test_distinct_counts_are_exact_and_typed_as_pinot() -> None:
    answer = query("SELECT DISTINCTCOUNT(name), distinct_count(name), distinctCountHLL(name), "
                   "DISTINCTCOUNTBITMAP(name), distinctCountMV(tags), DISTINCTCOUNT(tags) FROM events")
    assert [c[0].as_py() for c in answer.columns] == [4, 4, 4, 4, 5, 5]
    assert [f.type for f in answer.schema] == [pa.int32(), pa.int32(), pa.int64(), pa.int32(), pa.int32(),
                                               pa.int32()]


def test_distinct_quantifiers_become_pinot_distinct_aggregates() -> None:
    # CalciteSqlParser: COUNT(DISTINCT x) is DISTINCTCOUNT (INT), SUM/AVG(DISTINCT x) DISTINCTSUM/DISTINCTAVG
    answer = query("SELECT COUNT(DISTINCT name), COUNT(DISTINCT tags), SUM(DISTINCT qty), AVG(DISTINCT qty) "
                   "FROM events")
    assert [c[0].as_py() for c in answer.columns] == [4, 5, 10.0, 10 / 3]
    assert [f.type for f in answer.schema] == [pa.int32(), pa.int32(), pa.float64(), pa.float64()]


def test_percentile_picks_the_element_at_n_times_p_over_100() -> None:
    # sorted scores 1, 2, 3, 4, 10: index (int) (5 * p / 100); 100 is the last
    assert one("SELECT PERCENTILE(score, 50), PERCENTILE90(score), percentile(score, 0), "
               "percentile(score, 100), percentile(score, 25), percentile(score, 99.9), PERCENTILE10(score) "
               "FROM events") == \
        (3.0, 10.0, 1.0, 10.0, 2.0, 10.0, 1.0)
    # four values: Pinot takes index 2 (the upper middle), no interpolation
    assert one("SELECT percentile(score, 50), percentileEst(score, 50), PERCENTILEEST50(score) "
               "FROM events WHERE score < 5") == (3.0, 3, 3)
    # the t-digest estimate is answered by the exact interpolated quantile
    assert one("SELECT percentileTDigest(score, 50), PERCENTILETDIGEST50(score) FROM events "
               "WHERE score < 5") == (2.5, 2.5)
    answer = query("SELECT percentile(score, 50), percentileEst(score, 50), percentileTDigest(score, 50) "
                   "FROM events")
    assert [f.type for f in answer.schema] == [pa.float64(), pa.int64(), pa.float64()]


def test_percentile_and_mode_of_no_rows_are_pinot_defaults() -> None:
    low, est, tdigest, mode, spread = one(
        "SELECT percentile(score, 50), percentileEst(score, 50), percentileTDigest(score, 50), MODE(score), "
        "MINMAXRANGE(score) FROM events WHERE score > 100")
    assert low == float("-inf") and est == -(2**63) and tdigest != tdigest  # NaN
    assert mode == float("-inf") and spread == float("-inf")


def test_multi_value_aggregations() -> None:
    # tags hold 8 values; nums [1, 5], [3], [2, 2], [9], [4]: 7 values summing to 26, sorted 1 2 2 3 4 5 9
    assert one("SELECT COUNTMV(tags), SUMMV(nums), MINMV(nums), MAXMV(nums), AVGMV(nums), "
               "MINMAXRANGEMV(nums), PERCENTILEMV(nums, 50), PERCENTILE50MV(nums), DISTINCTSUMMV(nums) "
               "FROM events") == \
        (8, 26.0, 1.0, 9.0, 26 / 7, 8.0, 3.0, 3.0, 24.0)
    assert rows("SELECT name, COUNTMV(tags), SUMMV(nums) FROM events GROUP BY name ORDER BY name") == \
        [("alpha", 3, 10.0), ("beta", 1, 3.0), ("delta", 1, 9.0), ("gamma", 3, 4.0)]


def test_mode_minmaxrange_and_with_time() -> None:
    # qty 2, 3, 2, 3, 5: modes 2 and 3, reduced by MIN (default), MAX or AVG
    assert one("SELECT MODE(qty), MODE(qty, 'MAX'), MODE(qty, 'AVG'), MINMAXRANGE(score) FROM events") == \
        (2.0, 3.0, 2.5, 9.0)
    assert one("SELECT LASTWITHTIME(name, ts, 'STRING'), FIRSTWITHTIME(score, ts, 'DOUBLE'), "
               "lastWithTime(qty, created, 'INT'), last_with_time(qty, ts, 'LONG') FROM events") == \
        ("delta", 10.0, 3, 3)
    assert rows("SELECT name, LASTWITHTIME(score, ts, 'DOUBLE') FROM events GROUP BY name ORDER BY name") == \
        [("alpha", 1.0), ("beta", 2.0), ("delta", 4.0), ("gamma", 3.0)]


def test_an_aggregate_filter_applies_to_the_translation() -> None:
    assert one("SELECT DISTINCTCOUNT(name) FILTER (WHERE score > 2), PERCENTILE(score, 50) "
               "FILTER (WHERE qty = 2) FROM events") == (3, 3.0)


def test_decomposable_translations_keep_the_partial_aggregation_plan() -> None:
    decomposable = ("SELECT name, DISTINCTCOUNT(qty), COUNTMV(tags), SUMMV(nums), AVGMV(nums), MINMV(nums), "
                    "MINMAXRANGE(score) FROM events GROUP BY name")
    assert AggregatePlanner(translate(parse_select(decomposable), COLUMNS), list(COLUMNS)).decomposable()
    generic = "SELECT PERCENTILE(score, 50) FROM events"
    assert not AggregatePlanner(translate(parse_select(generic), COLUMNS), list(COLUMNS)).decomposable()


# ---------------------------------------------------------------- time


def test_datetrunc_and_todatetime_documented_examples() -> None:
    assert one("SELECT DATETRUNC('DAY', 1572678000000), ToDateTime(1571900400000, 'yyyy-MM-dd HH:mm') "
               "FROM events LIMIT 1") == (1572652800000, "2019-10-24 07:00")
    answer = query("SELECT DATETRUNC('day', ts), toDateTime(ts, 'yyyy-MM-dd') FROM events")
    assert [f.type for f in answer.schema] == [pa.int64(), pa.string()]


def test_datetrunc_units_time_zones_and_timestamp_columns() -> None:
    (row,) = rows("SELECT dateTrunc('hour', ts), dateTrunc('week', ts), "
                  "dateTrunc('month', ts, 'MILLISECONDS', 'America/Los_Angeles'), "
                  "dateTrunc('hour', ts / 1000, 'SECONDS'), dateTrunc('minute', ts, 'MILLISECONDS', 'UTC', "
                  "'MINUTES'), DATETRUNC('quarter', created), dateTrunc('second', created) "
                  "FROM events WHERE ts = 1572678123456")
    assert row == (1572678000000,  # 07:00
                   1572220800000,  # Monday 2019-10-28
                   1572591600000,  # 2019-11-01 00:00 PDT
                   1572678000,  # seconds in, seconds out
                   26211302,  # minutes since the epoch
                   1569888000000,  # 2019-10-01
                   1572678123000)


def test_datetimeconvert_epoch_and_simple_date_formats() -> None:
    (row,) = rows(
        "SELECT DATETIMECONVERT(ts, '1:MILLISECONDS:EPOCH', '1:MILLISECONDS:EPOCH', '15:MINUTES'), "
        "DATETIMECONVERT(ts, '1:MILLISECONDS:EPOCH', '1:HOURS:EPOCH', '1:HOURS'), "
        "DATETIMECONVERT(ts, 'EPOCH|MILLISECONDS|1', 'EPOCH|MINUTES|5', 'MINUTES|5'), "
        "DATETIMECONVERT(ts, '1:MILLISECONDS:EPOCH', '1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd', '1:DAYS'), "
        "DATETIMECONVERT(ts, '1:MILLISECONDS:EPOCH', 'SIMPLE_DATE_FORMAT|yyyy-MM-dd HH:mm|Asia/Kolkata',"
        " '30:MINUTES'), "
        "DATETIMECONVERT(created, 'TIMESTAMP', '1:SECONDS:EPOCH', '1:SECONDS'), "
        "DATETIMECONVERT(ts / 1000, '1:SECONDS:EPOCH', '1:MILLISECONDS:EPOCH', '1:MINUTES') "
        "FROM events WHERE ts = 1572678123456")
    assert row == (1572678000000, 436855, 5242260, "2019-11-02", "2019-11-02 12:30", 1572678123,
                   1572678120000)
    assert rows("SELECT DATETIMECONVERT('20191024', '1:DAYS:SIMPLE_DATE_FORMAT:yyyyMMdd', "
                "'1:MILLISECONDS:EPOCH', '1:DAYS'), "
                "DATETIMECONVERT('2019-10-24 07:05', 'SIMPLE_DATE_FORMAT|yyyy-MM-dd HH:mm|America/New_York', "
                "'1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd HH:mm', '1:HOURS') "
                "FROM events LIMIT 1") == [(1571875200000, "2019-10-24 11:00")]


def test_datetimeconvert_bucketing_time_zone() -> None:
    # Pinot's DateTimeConversionTransformFunction doc: 2024-09-20T00:13:27.834Z truncated to 5 hours is
    # 2024-09-19T20:00Z without a time zone (epoch-relative buckets), 2024-09-20T00:00Z with 'UTC'
    # (field buckets); to 5 days: 2024-09-19 (epoch-relative) and 2024-09-16 (day of month 16 = 1 + 3 * 5)
    millis = 1726791207834
    ms = {"h5": 1726776000000, "h5_utc": 1726790400000, "d5": 1726704000000, "d5_utc": 1726444800000}
    same = "'1:MILLISECONDS:EPOCH', '1:MILLISECONDS:EPOCH'"
    assert one(f"SELECT DATETIMECONVERT({millis}, {same}, '5:HOURS'), "
               f"DATETIMECONVERT({millis}, {same}, '5:HOURS', 'UTC'), "
               f"DATETIMECONVERT({millis}, {same}, '5:DAYS'), "
               f"DATETIMECONVERT({millis}, {same}, '5:DAYS', 'UTC') "
               f"FROM events LIMIT 1") == (ms["h5"], ms["h5_utc"], ms["d5"], ms["d5_utc"])
    # 2019-01-01T00:00Z is 2018-12-31 16:00 in Los Angeles: that day starts at 08:00Z
    assert one("SELECT DATETIMECONVERT(ts, '1:MILLISECONDS:EPOCH', '1:MILLISECONDS:EPOCH', '1:DAYS', "
               "'America/Los_Angeles'), toDateTime(ts, 'yyyy-MM-dd', 'America/Los_Angeles') FROM events "
               "WHERE ts = 1546300800000") == (1546243200000, "2018-12-31")


def test_calendar_fields_of_epoch_millis_and_timestamps() -> None:
    assert rows("SELECT YEAR(ts), MONTH(ts), DAY(ts), DAYOFWEEK(ts), DOW(created), WEEK(ts), QUARTER(ts), "
                "DAYOFYEAR(ts), yearOfWeek(ts), HOUR(ts), MINUTE(ts), SECOND(ts), MILLISECOND(ts), "
                "hour(ts, 'Asia/Kolkata'), EXTRACT(DOW FROM created), EXTRACT(YEAR FROM ts) "
                "FROM events ORDER BY ts") == [
        (2019, 1, 1, 2, 2, 1, 1, 1, 2019, 0, 0, 0, 0, 5, 2, 2019),
        (2019, 10, 24, 4, 4, 43, 4, 297, 2019, 7, 0, 0, 0, 12, 4, 2019),
        (2019, 11, 2, 6, 6, 44, 4, 306, 2019, 7, 0, 0, 0, 12, 6, 2019),
        (2019, 11, 2, 6, 6, 44, 4, 306, 2019, 7, 2, 3, 456, 12, 6, 2019),
        (2019, 12, 31, 2, 2, 1, 4, 365, 2020, 23, 59, 59, 999, 5, 2, 2019),
    ]
    assert query("SELECT YEAR(ts) FROM events").schema.field(0).type == pa.int32()


def test_epoch_conversions_and_round() -> None:
    assert one("SELECT toEpochSeconds(ts), toEpochMinutes(ts), toEpochHours(ts), to_epoch_days(ts), "
               "toEpochMinutesRounded(ts, 15), toEpochMinutesBucket(ts, 15), TOEPOCHSECONDSROUNDED(ts, 10), "
               "fromEpochDays(18202), fromEpochSecondsBucket(1, 60), fromEpochMinutes(26211302), "
               "ROUND(ts, 60000), round(created, 1000) FROM events WHERE ts = 1572678123456") == \
        (1572678123, 26211302, 436855, 18202, 26211300, 1747420, 1572678120, 1572652800000, 60000,
         1572678120000, 1572678120000, 1572678123000)


def test_datetime_text_conversions() -> None:
    assert one("SELECT toDateTime(ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS'), "
               "toDateTime(ts, 'EEE, d MMM yyyy hh:mm a'), "
               "fromDateTime('2019-10-24 07:00', 'yyyy-MM-dd HH:mm'), "
               "fromDateTime('2019-10-24', 'yyyy-MM-dd', 'America/Los_Angeles'), "
               "fromDateTime('garbage', 'yyyy-MM-dd', 'UTC', -1), toIso8601(ts), toIso8601(ts - 123456), "
               "fromIso8601('2019-10-24T07:00:00Z') FROM events WHERE ts = 1572678123456") == \
        ("2019-11-02T07:02:03.456", "Sat, 2 Nov 2019 07:02 AM", 1571900400000, 1571900400000, -1,
         "2019-11-02T07:02:03.456Z", "2019-11-02T07:00:00Z", 1571900400000)


def test_timestamp_add_and_diff() -> None:
    assert one("SELECT timestampAdd('month', 1, ts), dateAdd('day', -1, ts), timestampAdd('quarter', 1, ts), "
               "timestampDiff('day', ts, ts + 3 * 86400000 - 1), dateDiff('month', 1546300800000, ts), "
               "timestampDiff('year', ts, 1546300800000) FROM events WHERE ts = 1572678000000") == \
        (1575270000000, 1572591600000, 1580626800000, 2, 10, 0)


def test_now_and_ago_are_epoch_millis() -> None:
    now, hour, day, fraction, ok = one(
        "SELECT now(), now() - ago('PT1H'), now() - ago('P1D'), now() - ago('PT20.345S'), "
        "ago('PT15M') < now() FROM events LIMIT 1")
    assert abs(now - datetime.now().timestamp() * 1000) < 60_000
    assert (hour, day, fraction, ok) == (3_600_000, 86_400_000, 20_345, True)
    assert query("SELECT now() FROM events LIMIT 1").schema.field(0).type == pa.int64()


def test_timestamps_meet_epoch_millis_as_pinot_converts_them() -> None:
    assert rows("SELECT name FROM events WHERE created > 1572678000000 ORDER BY name") == \
        [("delta",), ("gamma",)]
    assert rows("SELECT name FROM events WHERE created BETWEEN 1571900400000 AND 1572678000000 "
                "OR created IN (1546300800000) ORDER BY ts") == [("alpha",), ("beta",), ("alpha",)]
    assert one("SELECT CAST(ts AS TIMESTAMP), CAST(created AS LONG), CAST(created AS VARCHAR), "
               "CAST(score AS INT), CAST(-2.7 AS INT), CAST(1.5 AS BIG_DECIMAL) "
               "FROM events WHERE ts = 1572678123456") == \
        (datetime(2019, 11, 2, 7, 2, 3, 456000), 1572678123456, "2019-11-02 07:02:03.456", 3, -2, 1.5)


SUPERSET_GRAINS = {  # superset/db_engine_specs/pinot.py, {col} the time column
    "PT1S": ("CAST(DATE_TRUNC('second', CAST({col} AS TIMESTAMP)) AS TIMESTAMP)",
             datetime(2019, 11, 2, 7, 48, 45)),
    "PT1M": ("CAST(DATE_TRUNC('minute', CAST({col} AS TIMESTAMP)) AS TIMESTAMP)",
             datetime(2019, 11, 2, 7, 48)),
    "PT5M": ("CAST(ROUND(DATE_TRUNC('minute', CAST({col} AS TIMESTAMP)), 300000) AS TIMESTAMP)",
             datetime(2019, 11, 2, 7, 45)),
    "PT10M": ("CAST(ROUND(DATE_TRUNC('minute', CAST({col} AS TIMESTAMP)), 600000) AS TIMESTAMP)",
              datetime(2019, 11, 2, 7, 40)),
    "PT15M": ("CAST(ROUND(DATE_TRUNC('minute', CAST({col} AS TIMESTAMP)), 900000) AS TIMESTAMP)",
              datetime(2019, 11, 2, 7, 45)),
    "PT30M": ("CAST(ROUND(DATE_TRUNC('minute', CAST({col} AS TIMESTAMP)), 1800000) AS TIMESTAMP)",
              datetime(2019, 11, 2, 7, 30)),
    "PT1H": ("CAST(DATE_TRUNC('hour', CAST({col} AS TIMESTAMP)) AS TIMESTAMP)", datetime(2019, 11, 2, 7)),
    "P1D": ("CAST(DATE_TRUNC('day', CAST({col} AS TIMESTAMP)) AS TIMESTAMP)", datetime(2019, 11, 2)),
    "P1W": ("CAST(DATE_TRUNC('week', CAST({col} AS TIMESTAMP)) AS TIMESTAMP)", datetime(2019, 10, 28)),
    "P1M": ("CAST(DATE_TRUNC('month', CAST({col} AS TIMESTAMP)) AS TIMESTAMP)", datetime(2019, 11, 1)),
    "P3M": ("CAST(DATE_TRUNC('quarter', CAST({col} AS TIMESTAMP)) AS TIMESTAMP)", datetime(2019, 10, 1)),
    "P1Y": ("CAST(DATE_TRUNC('year', CAST({col} AS TIMESTAMP)) AS TIMESTAMP)", datetime(2019, 1, 1)),
}


@pytest.mark.parametrize("grain", sorted(SUPERSET_GRAINS))
@pytest.mark.parametrize("column", ["ts", "created"])
def test_superset_time_grains(grain: str, column: str) -> None:
    moment = 1572680925678  # 2019-11-02T07:48:45.678Z
    table = TABLE.slice(0, 1)
    table = table.set_column(table.schema.get_field_index("ts"), "ts", pa.array([moment], pa.int64()))
    table = table.set_column(table.schema.get_field_index("created"), "created",
                             pa.array([moment], pa.timestamp("ms")))
    grain_sql, expected = SUPERSET_GRAINS[grain]
    sql = grain_sql.format(col=column)
    answer = query(f"SELECT {sql} AS __timestamp, COUNT(*) FROM events GROUP BY {sql} LIMIT 10", table)
    assert pa.types.is_timestamp(answer.schema.field(0).type)
    assert answer.to_pylist() == [{"__timestamp": expected, "count_star()": 1}]


# ---------------------------------------------------------------- strings, math, JSON, arrays


def test_documented_string_examples() -> None:
    assert one("SELECT SUBSTR('Pinot', 0, 2), SUBSTR('Pinot', 1, -1), substr('Pinot', 2), "
               "substr('Pinot', -3, -1), substr('Pinot', -3, -2), "
               "concat('Apache', 'Pinot', ' '), concat('real-time', 'analytics', '__'), concat('a', 'b'), "
               "substring('Pinot', 2, 3), substring('Pinot', 3) FROM events LIMIT 1") == \
        ("Pi", "inot", "not", "not", "n", "Apache Pinot", "real-time__analytics", "ab", "ino", "not")


def test_string_namesakes_follow_pinot() -> None:
    assert one("SELECT strpos('Pinot', 'n'), strpos('Pinot', 'z'), strpos('aaaa', 'aa', 2), "
               "strrpos('abcabc', 'b'), lpad('abc', 2, 'x'), lpad('abc', 5, 'xy'), rpad('abc', 4, ''), "
               "left('abc', -1), right('abc', 2), "
               "split('a,,b,', ','), splitPart('a,,b,c', ',', 1), splitPart('a,b', ',', -1), "
               "splitPart('a,b', ',', 5), trim(' \thi\n'), ltrim('  hi '), rtrim(' hi  '), "
               "trim('LEADING', 'x', 'xxhixx'), repeat('ab', '-', 3), remove('banana', 'an'), "
               "startsWith('Pinot', 'Pi'), endsWith('Pinot', 'ot'), codepoint('A'), "
               "hammingDistance('abc', 'abd'), hammingDistance('a', 'ab') FROM events LIMIT 1") == \
        (2, -1, 1, 4, "abc", "xyabc", "abc ", "", "bc", ["a", "b"], "b", "b", "null", "hi", "hi ", " hi",
         "hixx", "ab-ab-ab", "ba", True, True, 65, 1, -1)


def test_regexp_functions() -> None:
    assert one("SELECT regexp_like('Pinot', 'in'), REGEXPLIKE('Pinot', '^in'), "
               "regexp_like('Pinot', 'PIN', 'i'), "
               "regexp_extract('Pinot 123', '([a-z]+) ([0-9]+)', 2), regexp_extract('Pinot', 'zz'), "
               "regexp_extract('Pinot', 'zz', 0, 'none'), regexp_replace('Pinot', '([a-z])', '$1$1'), "
               "regexp_replace('aaa', 'a', 'b') FROM events LIMIT 1") == \
        (True, False, True, "123", "", "none", "Piinnoott", "bbb")


def test_math_namesakes_follow_pinot() -> None:
    assert one("SELECT log(100), ln(100) = log(100), log10(100), roundDecimal(2.675, 2), roundDecimal(-2.5), "
               "truncate(2.679, 2), truncate(-2.7), divide(7, 2), div(1, 0, -1.0), intDiv(-7, 2), "
               "isNan(score), sign(-3), ceil(1.2), floor(-1.2), power(2, 10) FROM events LIMIT 1") == \
        (4.605170185988092, True, 2.0, 2.68, -2.0, 2.67, -2.0, 3.5, -1.0, -4, 0, -1.0, 2.0, -2.0, 1024.0)


def test_json_extract_scalar_types_defaults_and_failure() -> None:
    assert rows("SELECT jsonExtractScalar(payload, '$.user.id', 'INT', '-1'), "
                "JSON_EXTRACT_SCALAR(payload, '$.user.name', 'STRING', 'none'), "
                "json_extract_scalar(payload, '$.amount', 'DOUBLE', '0'), "
                "jsonExtractScalar(payload, '$.ok', 'BOOLEAN', 'false'), "
                "jsonExtractScalar(payload, '$[''user''].id', 'LONG', '0'), "
                "jsonExtractScalar(payload, '$.list', 'INT_ARRAY'), "
                "jsonExtractScalar(payload, '$.user', 'STRING', '') FROM events ORDER BY ts") == [
        (-1, "none", 7.0, False, 0, [], ""),
        (8, "bob", 3.0, False, 8, [], '{"id":8.9,"name":"bob"}'),
        (7, "ann", 12.5, True, 7, [1, 2, 3], '{"id":7,"name":"ann"}'),
        (9, "none", 0.0, False, 9, [], '{"id":9}'),
        (-1, "none", 0.0, False, 0, [], ""),
    ]
    answer = query("SELECT jsonExtractScalar(payload, '$.user.id', 'INT', '0'), "
                   "jsonExtractScalar(payload, '$.user.id', 'LONG', '0') FROM events")
    assert [f.type for f in answer.schema] == [pa.int32(), pa.int64()]
    with pytest.raises(QueryError, match="Cannot resolve JSON path"):
        query("SELECT jsonExtractScalar(payload, '$.user.name', 'STRING') FROM events")


def test_json_extract_key_lists_paths_as_jayway_prints_them() -> None:
    assert rows("SELECT jsonExtractKey(payload, '$.user.*'), JSON_EXTRACT_KEY(payload, '$.*') FROM events "
                "WHERE ts = 1572678000000") == [
        (["$['user']['id']", "$['user']['name']"], ["$['user']", "$['amount']", "$['ok']", "$['list']"])]


def test_array_functions() -> None:
    assert one("SELECT arrayLength(tags), cardinality(nums), arrayContainsString(tags, 'a'), "
               "arrayIndexOfString(tags, 'b'), arrayIndexOfString(tags, 'z'), arrayElementAtInt(nums, 2), "
               "arrayElementAtString(tags, 5), arrayDistinctInt([3, 1, 3, 2]), arrayRemoveInt([3, 1, 3], 3), "
               "arraySliceInt([1, 2, 3, 4], 1, 3), arrayUnionInt([1, 2], [2, 3]), valueIn(tags, 'b', 'z'), "
               "arraySum(nums), arrayToString(tags, '|') FROM events WHERE ts = 1572678000000") == \
        (2, 2, True, 1, -1, 5, "", [3, 1, 2], [1, 3], [2, 3], [1, 2, 3], ["b"], 6.0, "a|b")


# ---------------------------------------------------------------- multi-value predicates


@pytest.mark.parametrize(("where", "expected"), [
    ("tags = 'a'", [1, 3]),  # any element equals
    ("'a' = tags", [1, 3]),
    ("tags != 'a'", [2, 4, 5]),  # exclusive predicates: no element equals
    ("tags <> 'c'", [1, 4, 5]),
    ("NOT tags = 'a'", [2, 4, 5]),
    ("tags IN ('c', 'e')", [2, 3, 4]),
    ("tags NOT IN ('c', 'e')", [1, 5]),
    ("nums > 4", [1, 4]),
    ("4 < nums", [1, 4]),
    ("nums BETWEEN 3 AND 4", [2, 5]),
    ("tags LIKE 'd%'", [3]),
    ("tags NOT LIKE 'a%'", [2, 4, 5]),
    ("REGEXP_LIKE(tags, '^[de]$')", [3, 4]),
    ("tags = 'a' AND nums = 2", [3]),
])
def test_multi_value_predicates_match_like_pinot(where: str, expected: list[int]) -> None:
    order = {ts: i + 1 for i, ts in enumerate(TS)}
    assert sorted(order[r[0]] for r in rows(f"SELECT ts FROM events WHERE {where}")) == expected


def test_multi_value_predicates_in_having_and_filter() -> None:
    assert one("SELECT COUNT(*) FILTER (WHERE tags = 'a'), COUNT(*) FROM events") == (2, 5)
    assert rows("SELECT name, COUNT(*) FROM events GROUP BY name HAVING MAX(score) > 2 ORDER BY name") == \
        [("alpha", 2), ("delta", 1), ("gamma", 1)]


def test_multi_value_column_helper() -> None:
    assert multi_value_column(expression("tags"), COLUMNS) == "tags"
    assert multi_value_column(expression("TAGS"), COLUMNS) == "tags"
    assert multi_value_column(expression("name"), COLUMNS) is None
    assert multi_value_column(expression("arrayLength(tags)"), COLUMNS) is None


# ---------------------------------------------------------------- names, unknown functions


def test_translated_items_keep_the_names_the_user_wrote() -> None:
    answer = query("SELECT DISTINCTCOUNT(name), percentile(score, 50) AS p, name FROM events GROUP BY name "
                   "ORDER BY name LIMIT 1")
    assert answer.column_names == ["distinctcount(\"name\")", "p", "name"]


def test_unknown_functions_are_left_for_duckdb_to_reject() -> None:
    node = parse_select("SELECT no_such_function(score) FROM events")
    assert translate(node, COLUMNS)["select_list"] == node["select_list"]
    with pytest.raises(QueryError) as raised:
        query("SELECT no_such_function(score) FROM events")
    assert raised.value.code == QueryError.QUERY_VALIDATION


def test_bad_pinot_arguments_are_validation_errors() -> None:
    for sql in ("SELECT DATETRUNC('fortnight', ts) FROM events",
                "SELECT DATETIMECONVERT(ts, '1:FOO:EPOCH', '1:MILLISECONDS:EPOCH', '1:DAYS') FROM events",
                "SELECT toDateTime(ts, 'GGGG') FROM events",
                "SELECT ago('P1M') FROM events",
                "SELECT percentile(score, 101) FROM events"):
        with pytest.raises(QueryError) as raised:
            query(sql)
        assert raised.value.code == QueryError.QUERY_VALIDATION, sql
