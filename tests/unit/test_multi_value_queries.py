"""Multi-value columns as Pinot defines them: GROUP BY a multi-value column groups by each value,
also when the rows are split across workers (in-process engines over slices of the rows)."""

from __future__ import annotations

import pyarrow as pa

from ingestd.config import parse_schema
from ingestd.messages import QueryReply
from ingestd.query.broker import Broker, Gathered, QueryContext
from ingestd.query.engine import ArrowSqlEngine
from ingestd.query.plan import QueryPlan
from ingestd.query.table_info import TableInfo

SCHEMA = parse_schema({
    "schemaName": "events",
    "dimensionFieldSpecs": [{"name": "tags", "dataType": "STRING", "singleValueField": False},
                            {"name": "user", "dataType": "STRING"}],
    "metricFieldSpecs": [{"name": "clicks", "dataType": "INT"}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH",
                            "granularity": "1:MILLISECONDS"}],
})
ROWS = pa.table({
    "tags": pa.array([["a", "b"], ["a"], ["c", "a"], ["b"]], pa.list_(pa.string())),
    "user": ["u1", "u2", "u1", "u3"],
    "clicks": pa.array([1, 2, 3, 4], pa.int32()),
    "ts": pa.array([1, 2, 3, 4], pa.int64()),
})


class TwoSlices:
    def __init__(self) -> None:
        self.engine = ArrowSqlEngine()
        self.slices = [ROWS.slice(0, 2), ROWS.slice(2)]

    def table_info(self, name: str) -> TableInfo | None:
        return TableInfo("events", ROWS.schema, SCHEMA, "ts") if name == "events" else None

    def scatter(self, plan: QueryPlan, context: QueryContext) -> Gathered:
        replies = []
        for i, part in enumerate(self.slices):
            result, matched = self.engine.run_part(plan, part)
            replies.append(QueryReply(1, i, result=result, matched_docs=matched, total_docs=part.num_rows))
        return Gathered(replies, len(self.slices))


def rows(sql: str) -> list[list[object]]:
    answer = Broker(TwoSlices()).execute(sql)
    assert answer["exceptions"] == [], answer["exceptions"]
    return list(answer["resultTable"]["rows"])


def test_group_by_a_multi_value_column_groups_by_each_value() -> None:
    assert rows("SELECT tags, COUNT(*), SUM(clicks) FROM events GROUP BY tags ORDER BY tags") == [
        ["a", 3, 6.0], ["b", 2, 5.0], ["c", 1, 3.0]]
    by_ordinal = rows("SELECT tags AS t, COUNT(*) FROM events GROUP BY 1 ORDER BY 1")
    assert by_ordinal == [["a", 3], ["b", 2], ["c", 1]]
    assert rows("SELECT user, tags, COUNT(*) FROM events WHERE clicks > 1 GROUP BY user, tags "
                "ORDER BY user, tags") == [["u1", "a", 1], ["u1", "c", 1], ["u2", "a", 1], ["u3", "b", 1]]


def test_a_multi_value_column_in_a_selection_is_its_array() -> None:
    assert rows("SELECT tags FROM events ORDER BY ts LIMIT 2") == [[["a", "b"]], [["a"]]]
