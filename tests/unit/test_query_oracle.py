"""The differential test's oracle is sound: each generated query (tests/support/query_grammar.py) has
one answer, whatever the physical order and chunking of the rows — so a difference the differential
test reports is the server's, never an ambiguity of the query (ties under a LIMIT, ROW_NUMBER ties,
float sums added in another order)."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
from hypothesis import given, settings

from tests.support.answers import Answer, first_difference, reference_answer, reference_rows
from tests.support.query_grammar import GeneratedQuery, queries
from tests.support.query_table import arrow_table, make_rows

ROWS = make_rows()
SHUFFLED = random.Random(5).sample(ROWS, len(ROWS))
AS_LOADED = duckdb.connect()
AS_LOADED.register("t", arrow_table(ROWS))
REORDERED = duckdb.connect()
REORDERED.register("t", pa.Table.from_batches(arrow_table(SHUFFLED).to_batches(max_chunksize=337)))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(query=queries())
def test_a_generated_query_has_one_answer_whatever_the_row_order(query: GeneratedQuery) -> None:
    want = reference_answer(AS_LOADED, query.sql, query.reference_sql)  # the generator emits valid SQL
    got = reference_answer(REORDERED, query.sql, query.reference_sql)
    full = None if query.ordered else reference_rows(AS_LOADED, query.full_reference_sql)
    assert first_difference(got, want, query.ordered, full) is None, (query, got.show(), want.show())
    assert (got.names, got.types) == (want.names, want.types)


def test_the_comparison_notices_a_wrong_value_a_wrong_pick_and_a_wrong_order() -> None:
    sql = "SELECT subject, COUNT(*) AS n FROM t GROUP BY subject ORDER BY ALL LIMIT 3"
    want = reference_answer(AS_LOADED, sql, sql)
    off_by_one = [[want.rows[0][0], want.rows[0][1] + 1], *want.rows[1:]]
    assert first_difference(Answer(want.names, want.types, off_by_one), want, True, None) is not None
    swapped = [want.rows[1], want.rows[0], want.rows[2]]
    assert first_difference(Answer(want.names, want.types, swapped), want, True, None) is not None
    assert first_difference(Answer(want.names, want.types, swapped), want, False, None) is None
    everything = reference_rows(AS_LOADED, "SELECT subject FROM t")
    one = Answer(["subject"], ["STRING"], everything[:1])
    assert first_difference(Answer(["subject"], ["STRING"], [["Biology"]]), one, False, everything)
    assert first_difference(Answer(["subject"], ["STRING"], everything[-1:]), one, False, everything) is None
