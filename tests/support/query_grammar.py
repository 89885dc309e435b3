"""Hypothesis strategies for SELECTs over the seed table (tests/support/query_table.py), each paired with
the query plain DuckDB must answer identically.

A generated query is sent to the server as `sql`. Its `reference_sql` asks the same question of DuckDB
with Pinot's documented conventions written out (README: a missing LIMIT is LIMIT 10; SUM — windowed
or not —, and MIN/MAX/AVG of a numeric column return DOUBLE, and without GROUP BY they answer 0,
+Infinity, -Infinity, -Infinity over no rows; COUNT(DISTINCT x) is Pinot's DISTINCTCOUNT, an INT;
`SELECT *` lists the columns alphabetically), so the answers must agree exactly, column types
included. Everything the generator emits has one well-defined answer:
- a LIMIT that may cut the result comes with an ORDER BY over every output column (`ordered`), or with
  no ORDER BY at all, in which case any `len(reference)` rows of `full_reference_sql` are correct;
- windows that number rows (ROW_NUMBER, LAG) order by all seven columns, so only wholly identical rows
  tie; running sums use the default RANGE frame, which gives ties the same value.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

TABLE = "t"
COLUMNS = ["studentID", "firstName", "lastName", "gender", "subject", "score", '"timestamp"']
TOTAL_ORDER = 'score DESC, "timestamp", studentID, firstName, lastName, gender, subject'
LITERALS = {  # mixed-case spellings of values that exist, and some that do not
    "subject": ["Maths", "MATHS", "maths", "mAths", "History", "HISTORY", "history", "English", "Biology"],
    "gender": ["Female", "FEMALE", "female", "Male", "MALE", "male"],
    "firstName": ["Ann", "ann", "ANN", "Bob", "O'Hara", "o'hara", "Zoë", "ZOË", "Ann_Marie"],
    "lastName": ["Doe", "DOE", "doe", "van Dyke", "Jones", "Smith"],
}
PATTERNS = ["M%", "m%", "%aths", "%ATHS", "_ob", "Ann_%", "%'%", "%e%", "%E%", "%"]
SCORES = [-5.0, -1.25, 0.0, 0.125, 3.5, 3.75, 10.0, 50.0, 99.875]
INTS = [-3, 0, 1, 7, 30, 59, 60, 1000]
TIMES = [1_571_900_400_000 + hours * 3_600_000 for hours in (0, 1, 100, 200, 399, 400)]
CASE_WORDS = [("subject", ["Maths", "MATHS", "maths"]), ("subject", ["History", "HISTORY", "history"]),
              ("gender", ["Male", "MALE", "male"]), ("firstName", ["Ann", "ANN", "ann"])]


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Expr:
    sql: str  # as a user writes it
    ref: str  # with Pinot's conventions applied
    kind: str = "scalar"  # scalar | aggregate | window
    global_ref: str = ""  # the reference when the query has no GROUP BY (Pinot's empty defaults), if other

    def reference(self, grouped: bool) -> str:
        return self.ref if grouped or not self.global_ref else self.global_ref


def same(sql: str, kind: str = "scalar") -> Expr:
    return Expr(sql, sql, kind)


def as_double(sql: str, empty_default: str) -> Expr:
    """An aggregate Pinot answers as DOUBLE, and without GROUP BY as `empty_default` over no rows."""
    cast = f"CAST({sql} AS DOUBLE)"
    return Expr(sql, cast, "aggregate", f"COALESCE({cast}, CAST({empty_default} AS DOUBLE))")


def sum_of(argument: str, over: str = "", kind: str = "aggregate") -> Expr:
    text = f"SUM({argument}){over}"
    return as_double(text, "0") if kind == "aggregate" else Expr(text, f"CAST({text} AS DOUBLE)", kind)


def numeric(function: str, column: str) -> Expr:
    default = {"MIN": "'Infinity'", "MAX": "'-Infinity'", "AVG": "'-Infinity'"}[function]
    return as_double(f"{function}({column})", default)


@dataclass(frozen=True)
class GeneratedQuery:
    sql: str  # sent to the server
    reference_sql: str  # the same question for DuckDB: conventions applied, LIMIT explicit
    full_reference_sql: str  # reference_sql without LIMIT/OFFSET: every row a correct answer may hold
    ordered: bool  # the ORDER BY is total: compare row sequences, not multisets


# ---- WHERE --------------------------------------------------------------------------------------

def _string_atom(column: str) -> st.SearchStrategy[str]:
    word = st.sampled_from(LITERALS[column]).map(quote)
    words = st.lists(word, min_size=1, max_size=3, unique=True).map(", ".join)
    return st.one_of(
        st.tuples(st.sampled_from(["=", "<>", "<", ">="]), word).map(lambda p: f"{column} {p[0]} {p[1]}"),
        st.tuples(st.sampled_from(["IN", "NOT IN"]), words).map(lambda p: f"{column} {p[0]} ({p[1]})"),
        st.tuples(st.sampled_from(["LIKE", "NOT LIKE", "ILIKE"]), st.sampled_from(PATTERNS))
        .map(lambda p: f"{column} {p[0]} {quote(p[1])}"),
        st.tuples(st.sampled_from(["lower", "upper"]), word).map(lambda p: f"{p[0]}({column}) = {p[1]}"),
    )


def _number_atom(column: str, values: list[float] | list[int]) -> st.SearchStrategy[str]:
    value = st.sampled_from(values)
    return st.one_of(
        st.tuples(st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), value)
        .map(lambda p: f"{column} {p[0]} {p[1]}"),
        st.tuples(st.sampled_from(["BETWEEN", "NOT BETWEEN"]), value, value)
        .map(lambda p: f"{column} {p[0]} {p[1]} AND {p[2]}"),
    )


def predicates() -> st.SearchStrategy[str]:
    atoms = st.one_of(
        *[_string_atom(column) for column in LITERALS],
        _number_atom("score", SCORES), _number_atom("studentID", INTS), _number_atom('"timestamp"', TIMES),
        st.tuples(st.sampled_from([2, 3, 5]), st.integers(0, 2))
        .map(lambda p: f"studentID % {p[0]} = {p[1]}"),
    )
    return st.recursive(atoms, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
        inner.map(lambda p: f"NOT ({p})"),
    ), max_leaves=4)


# ---- select-list items --------------------------------------------------------------------------

SCALARS = [same(c) for c in COLUMNS] + [same(e) for e in [
    "score * 2", "studentID + 1", "upper(subject)", "lower(firstName)", "firstName || ' ' || lastName",
    "CASE WHEN subject = 'Maths' THEN 'exact' WHEN lower(subject) = 'maths' THEN 'folded' ELSE 'other' END",
    "score > 3.5", '"timestamp" // 86400000', "score - 1.5", "studentID % 7", "subject = 'MATHS'",
    "length(lastName)", "abs(score)",
]]
GROUP_KEYS = [same(e) for e in [
    "subject", "gender", "lastName", "firstName", "studentID", "lower(subject)", "upper(gender)",
    "studentID % 5", "score > 10", '"timestamp" // 86400000', "subject = 'MATHS'", "subject = 'Maths'",
    "CASE WHEN subject = 'Maths' THEN 'm' WHEN subject = 'MATHS' THEN 'M' ELSE 'o' END",
]]
WINDOWS = [same(e, "window") for e in [
    "COUNT(*) OVER ()", "COUNT(*) OVER (PARTITION BY subject)", "COUNT(*) OVER (PARTITION BY lower(subject))",
    f"ROW_NUMBER() OVER (PARTITION BY subject ORDER BY {TOTAL_ORDER})",
    "RANK() OVER (PARTITION BY gender ORDER BY score DESC)", "DENSE_RANK() OVER (ORDER BY studentID)",
    "AVG(score) OVER (PARTITION BY subject)", "MAX(score) OVER (PARTITION BY lower(subject))",
    f"LAG(score) OVER (PARTITION BY subject ORDER BY {TOTAL_ORDER})",
    "COUNT(CASE WHEN subject = 'Maths' THEN 1 END) OVER ()",
    "COUNT(CASE WHEN subject = 'MATHS' THEN 1 END) OVER ()",
]] + [sum_of("score", " OVER (PARTITION BY gender)", "window"),
      sum_of("score", ' OVER (ORDER BY "timestamp")', "window"),
      sum_of("studentID", ' OVER (PARTITION BY subject ORDER BY "timestamp")', "window")]
_MAX, _MIN = numeric("MAX", "score"), numeric("MIN", "score")
AGGREGATES = [
    same("COUNT(*)", "aggregate"), same("COUNT(firstName)", "aggregate"),
    # Pinot reads COUNT(DISTINCT x) as DISTINCTCOUNT(x), an INT
    *(Expr(e, f"CAST({e} AS INT)", "aggregate") for e in ["COUNT(DISTINCT subject)",
                                                          "COUNT(DISTINCT studentID)",
                                                          "COUNT(DISTINCT lower(subject))"]),
    numeric("AVG", "score"), numeric("AVG", "studentID"), _MIN, _MAX,
    same("MIN(firstName)", "aggregate"), same("MAX(subject)", "aggregate"), numeric("MAX", '"timestamp"'),
    numeric("MIN", "studentID"), same("median(score)", "aggregate"), same("median(studentID)", "aggregate"),
    Expr("MAX(score) - MIN(score)", f"{_MAX.ref} - {_MIN.ref}", "aggregate",
         f"{_MAX.global_ref} - {_MIN.global_ref}"),
    sum_of("score"), sum_of("studentID"),
    Expr("SUM(score) / COUNT(*)", "CAST(SUM(score) AS DOUBLE) / COUNT(*)", "aggregate",
         "COALESCE(CAST(SUM(score) AS DOUBLE), CAST(0 AS DOUBLE)) / COUNT(*)"),
]
WINDOWS_OVER_GROUPS = [same("RANK() OVER (ORDER BY COUNT(*) DESC)", "window"),
                       same("DENSE_RANK() OVER (ORDER BY MAX(score))", "window"),
                       same("COUNT(*) OVER ()", "window"),
                       sum_of("COUNT(*)", " OVER ()", "window")]


@st.composite
def case_aggregates(draw: st.DrawFn, paired: bool) -> list[Expr]:
    """CASE/FILTER aggregates on a string literal; `paired`: the same one twice, literal case differing."""
    column, spellings = draw(st.sampled_from(CASE_WORDS))
    words = draw(st.lists(st.sampled_from(spellings), min_size=2 if paired else 1, max_size=2, unique=True))
    template = draw(st.sampled_from([
        "COUNT(CASE WHEN {c} = {w} THEN 1 END)", "SUM(CASE WHEN {c} = {w} THEN score ELSE 0 END)",
        "COUNT(*) FILTER (WHERE {c} = {w})", "MAX(CASE WHEN {c} IN ({w}, 'x') THEN studentID END)",
    ]))
    found = []
    for word in words:
        text = template.format(c=column, w=quote(word))
        found.append(sum_of(text[4:-1]) if text.startswith("SUM(") else same(text, "aggregate"))
    return found


@st.composite
def having(draw: st.DrawFn) -> Expr:
    aggregate = draw(st.sampled_from([*AGGREGATES[:10], sum_of("score")]))
    value = draw(st.sampled_from([0, 1, 3, 10, 40, 150]) if aggregate.sql.startswith("COUNT")
                 else st.sampled_from(SCORES if "score" in aggregate.sql else INTS))
    if aggregate.sql == "MIN(firstName)":
        value = quote(draw(st.sampled_from(LITERALS["firstName"])))
    op = draw(st.sampled_from([">", ">=", "<", "<>"]))
    return Expr(f"{aggregate.sql} {op} {value}", f"{aggregate.ref} {op} {value}", "aggregate",
                f"{aggregate.reference(False)} {op} {value}")


# ---- whole queries ------------------------------------------------------------------------------

@st.composite
def limits(draw: st.DrawFn) -> tuple[str, str, bool]:
    """(the user's LIMIT clause, the reference's, whether it may cut the result)."""
    kind = draw(st.sampled_from(["all", "all", "rows", "offset", "percent", "default"]))
    if kind == "all":
        return "LIMIT 100000", "LIMIT 100000", False
    if kind == "rows":
        clause = f"LIMIT {draw(st.integers(0, 30))}"
    elif kind == "offset":
        clause = f"LIMIT {draw(st.integers(0, 30))} OFFSET {draw(st.sampled_from([1, 3, 10, 2990]))}"
    elif kind == "percent":
        clause = f"LIMIT {draw(st.sampled_from([1, 5, 10, 25, 50, 99, 100]))}%"
    else:
        return "", "LIMIT 10", True
    return clause, clause, True


@st.composite
def order_by(draw: st.DrawFn, width: int, cuts: bool) -> tuple[str, bool]:
    """(ORDER BY clause or "", whether it orders totally). Total orders cover every output column."""
    kind = draw(st.sampled_from(["total", "total", "total", "all", "none"] if cuts
                                else ["none", "none", "partial", "total"]))
    if kind == "none":
        return "", False
    if kind == "all":
        return "ORDER BY ALL" + draw(st.sampled_from(["", " DESC"])), True
    ordinals = draw(st.permutations(range(1, width + 1)))
    if kind == "partial":
        ordinals = ordinals[:1]
    keys = [f"{k}{draw(st.sampled_from(['', ' DESC', ' ASC']))}" for k in ordinals]
    return "ORDER BY " + ", ".join(keys), kind == "total" or width == 1


def _aliased(items: list[Expr], prefix: str, draw: st.DrawFn) -> list[tuple[Expr, str]]:
    return [(item, f"{prefix}{k}" if draw(st.booleans()) else "") for k, item in enumerate(items)]


def _assemble(items: list[tuple[Expr, str]], middle: list[tuple[str, str]], limit: tuple[str, str, bool],
              order: tuple[str, bool], distinct: bool = False, grouped: bool = True) -> GeneratedQuery:
    """`middle`: (user, reference) text of WHERE ... QUALIFY, in order."""
    head = "SELECT DISTINCT " if distinct else "SELECT "

    def select(ref: bool) -> str:
        if ref and [e.sql for e, _ in items] == ["*"]:  # Pinot lists `SELECT *` alphabetically
            return head + ", ".join(sorted(COLUMNS, key=lambda c: c.strip('"')))
        return head + ", ".join((e.reference(grouped) if ref else e.sql) + (f" AS {a}" if a else "")
                                for e, a in items)

    user = [select(False), f"FROM {TABLE}", *(m[0] for m in middle), order[0]]
    ref = [select(True), f"FROM {TABLE}", *(m[1] for m in middle), order[0]]
    join = " ".join
    return GeneratedQuery(join(p for p in [*user, limit[0]] if p), join(p for p in [*ref, limit[1]] if p),
                          join(p for p in ref if p), order[1])


@st.composite
def selection_queries(draw: st.DrawFn) -> GeneratedQuery:
    distinct = draw(st.integers(0, 4)) == 0
    if not distinct and draw(st.integers(0, 5)) == 0:
        windows = draw(st.lists(st.sampled_from(WINDOWS), max_size=2, unique=True))
        items = [(same("*"), ""), *_aliased(windows, "w", draw)]
        width = len(COLUMNS) + len(items) - 1
    else:
        scalars = draw(st.lists(st.sampled_from(SCALARS), min_size=1, max_size=4, unique=True))
        windows = [] if distinct else draw(st.lists(st.sampled_from(WINDOWS), max_size=2, unique=True))
        items = draw(st.permutations(_aliased(scalars, "c", draw) + _aliased(windows, "w", draw)))
        width = len(items)
    middle: list[tuple[str, str]] = []
    if draw(st.booleans()):
        middle.append((f"WHERE {draw(predicates())}",) * 2)
    if not distinct and draw(st.integers(0, 3)) == 0:
        middle.append((draw(st.sampled_from([
            f"QUALIFY ROW_NUMBER() OVER (PARTITION BY subject ORDER BY {TOTAL_ORDER}) <= 2",
            "QUALIFY RANK() OVER (PARTITION BY gender ORDER BY score DESC) = 1",
            "QUALIFY COUNT(*) OVER (PARTITION BY firstName) > 250",
        ])),) * 2)
    limit = draw(limits())
    return _assemble(items, middle, limit, draw(order_by(width, limit[2])), distinct)


@st.composite
def aggregate_queries(draw: st.DrawFn) -> GeneratedQuery:
    keys = draw(st.lists(st.sampled_from(GROUP_KEYS), max_size=2, unique=True))
    aggregates = draw(st.lists(st.sampled_from(AGGREGATES), max_size=3, unique=True))
    if draw(st.booleans()) or not aggregates:
        aggregates += draw(case_aggregates(paired=draw(st.booleans())))
    style = draw(st.sampled_from(["expr", "ordinal", "alias", "all", "hidden"])) if keys else "none"
    key_items = [(k, f"g{i}" if style == "alias" or draw(st.booleans()) else "") for i, k in enumerate(keys)]
    windows = draw(st.lists(st.sampled_from(WINDOWS_OVER_GROUPS), max_size=1)) if keys else []
    items = draw(st.permutations(([] if style == "hidden" else key_items) + _aliased(aggregates, "a", draw)
                                 + _aliased(windows, "w", draw)))
    middle: list[tuple[str, str]] = []
    if draw(st.booleans()):
        middle.append((f"WHERE {draw(predicates())}",) * 2)
    if style in ("expr", "hidden"):
        middle.append(("GROUP BY " + ", ".join(k.sql for k in keys),) * 2)
    elif style == "ordinal":
        middle.append(("GROUP BY " + ", ".join(str(items.index(i) + 1) for i in key_items),) * 2)
    elif style == "alias":
        middle.append(("GROUP BY " + ", ".join(a for _, a in key_items),) * 2)
    elif style == "all":
        middle.append(("GROUP BY ALL",) * 2)
    grouped = style != "none"
    if draw(st.integers(0, 2)) == 0:
        condition = draw(having())
        middle.append((f"HAVING {condition.sql}", f"HAVING {condition.reference(grouped)}"))
    if keys and style != "all" and draw(st.integers(0, 5)) == 0:  # DuckDB: not with GROUP BY ALL
        middle.append((f"QUALIFY RANK() OVER (PARTITION BY {keys[0].sql} ORDER BY COUNT(*) DESC) = 1",) * 2)
    limit = draw(limits())
    return _assemble(items, middle, limit, draw(order_by(len(items), limit[2])), grouped=grouped)


def queries() -> st.SearchStrategy[GeneratedQuery]:
    return st.one_of(selection_queries(), aggregate_queries())
