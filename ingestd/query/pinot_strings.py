"""Pinot's string, regular-expression, math and null-test scalar functions as DuckDB expressions
(pinot-common StringFunctions, regexp/*, ArithmeticFunctions, ObjectFunctions), above all the ones
DuckDB has under the same name with another meaning: SUBSTR is 0-based and end-exclusive, CONCAT's
third argument is a separator, STRPOS is 0-based (-1 when absent), LOG is the natural logarithm,
REGEXP_REPLACE replaces every match, LPAD never truncates, SPLIT drops empty tokens...
"""

from __future__ import annotations

from ingestd.query.pinot_sql import (
    BOOLEAN,
    BYTES,
    DOUBLE,
    INT,
    LONG,
    STRING,
    STRING_MV,
    Call,
    Node,
    PinotType,
    Rule,
    Typed,
    invalid,
    literal,
    literal_value,
    template,
)

_JAVA_TRIM = "".join(chr(code) for code in range(1, 33))  # String.trim(): every char <= U+0020 (NUL aside)
_JAVA_WHITESPACE = " \t\n\x0b\f\r"  # regex \s, used by Pinot's ltrim/rtrim
_BOUND = ("CASE WHEN {1} < 0 THEN greatest(length({0}) + {1}, 0) ELSE least({1}, length({0})) END")


def _slice(text: Node, start: Node, end: Node | None) -> Node:
    """commons-lang StringUtils.substring(text, start[, end]): 0-based, end-exclusive, negative
    positions count from the end, out-of-range positions clamp."""
    begin = template(_BOUND, text, start)
    stop = template("length({0})", text) if end is None else template(_BOUND, text, end)
    shape = "CASE WHEN {2} <= {1} THEN '' ELSE substring({0}, {1} + 1, {2} - {1}) END"
    return template(shape, text, begin, stop)


def _substr(call: Call) -> Typed | None:
    """substr(s, begin[, end]): 0-based, end exclusive, end -1 means to the end."""
    if len(call.args) == 2:
        return _slice(call.args[0], call.args[1], None), STRING
    if len(call.args) != 3:
        return None
    if literal_value(call.args[2]) == -1:
        return _slice(call.args[0], call.args[1], None), STRING
    end = template("CASE WHEN {1} = -1 THEN length({0}) ELSE {1} END", call.args[0], call.args[2])
    return _slice(call.args[0], call.args[1], end), STRING


def _substring(call: Call) -> Typed | None:
    """substring(s, begin[, length]): 1-based begin (StringUtils.substring(s, begin - 1, begin - 1 + n))."""
    if len(call.args) not in (2, 3):
        return None
    start = template("{0} - 1", call.args[1])
    end = template("{0} - 1 + {1}", call.args[1], call.args[2]) if len(call.args) == 3 else None
    return _slice(call.args[0], start, end), STRING


def _concat(call: Call) -> Typed | None:
    """concat(a, b, separator) → a + separator + b; two arguments join as DuckDB's concat does."""
    if len(call.args) != 3:
        return None
    return template("concat({0}, {2}, {1})", *call.args), STRING


def _trim(call: Call) -> Typed | None:
    if len(call.args) == 1:
        return template("trim({0}, {1})", call.args[0], literal(_JAVA_TRIM)), STRING
    if len(call.args) != 3:
        return None
    end = call.string(0, "trim end (BOTH, LEADING or TRAILING)")
    function = {"BOTH": "trim", "LEADING": "ltrim", "TRAILING": "rtrim"}.get(end)
    if function is None:
        raise invalid(f"trim: {end!r} is not BOTH, LEADING or TRAILING")
    return template(f"{function}({{0}}, {{1}})", call.args[2], call.args[1]), STRING


def _one_sided_trim(function: str) -> Rule:
    def rule(call: Call) -> Typed | None:
        if len(call.args) != 1:
            return None
        return template(f"{function}({{0}}, {{1}})", call.args[0], literal(_JAVA_WHITESPACE)), STRING
    return rule


_OCCURRENCES = ("list_filter(range(0, length({0})), "
                "lambda __pinot_i: substring({0}, __pinot_i + 1, length({1})) = {1})")


def _strpos(call: Call) -> Typed | None:
    """strpos(s, find[, instance]): 0-based index of the first (instance-th, overlapping) match, or -1."""
    if len(call.args) == 2:
        return template("CAST(strpos({0}, {1}) - 1 AS INTEGER)", *call.args), INT
    if len(call.args) != 3:
        return None
    shape = (f"CAST(CASE WHEN {{2}} <= 0 THEN -1 WHEN {{1}} = '' THEN 0 "
             f"ELSE COALESCE({_OCCURRENCES}[{{2}}], -1) END AS INTEGER)")
    return template(shape, *call.args), INT


def _strrpos(call: Call) -> Typed | None:
    """strrpos(s, find[, startPos]): 0-based index of the last match (at or before startPos), or -1."""
    if len(call.args) == 2:
        shape = (f"CAST(CASE WHEN {{1}} = '' THEN length({{0}}) "
                 f"ELSE COALESCE({_OCCURRENCES}[-1], -1) END AS INTEGER)")
        return template(shape, *call.args), INT
    if len(call.args) != 3:
        return None
    before = ("list_filter(range(0, length({0})), lambda __pinot_i: __pinot_i <= {2} "
              "AND substring({0}, __pinot_i + 1, length({1})) = {1})")
    shape = (f"CAST(CASE WHEN {{2}} < 0 THEN -1 WHEN {{1}} = '' THEN least({{2}}, length({{0}})) "
             f"ELSE COALESCE({before}[-1], -1) END AS INTEGER)")
    return template(shape, *call.args), INT


def _pad(function: str) -> Rule:
    """lpad/rpad(s, size, pad): StringUtils pads never truncate; an empty pad pads with spaces."""
    def rule(call: Call) -> Typed | None:
        if len(call.args) != 3:
            return None
        shape = (f"CASE WHEN {{1}} <= length({{0}}) THEN {{0}} "
                 f"ELSE {function}({{0}}, {{1}}, CASE WHEN {{2}} = '' THEN ' ' ELSE {{2}} END) END")
        return template(shape, *call.args), STRING
    return rule


def _side(function: str) -> Rule:
    """left/right(s, n): StringUtils.left/right, empty for a negative n."""
    def rule(call: Call) -> Typed | None:
        if len(call.args) != 2:
            return None
        return template(f"CASE WHEN {{1}} < 0 THEN '' ELSE {function}({{0}}, {{1}}) END", *call.args), STRING
    return rule


_TOKENS = "list_filter(string_split({0}, {1}), lambda __pinot_t: __pinot_t <> '')"


def _split_part(call: Call) -> Typed | None:
    """splitPart(s, delimiter, index): 0-based (negative from the end) token, empty tokens skipped,
    'null' when out of range."""
    if len(call.args) != 3:
        return None
    shape = f"COALESCE({_TOKENS}[CASE WHEN {{2}} >= 0 THEN {{2}} + 1 ELSE {{2}} END], 'null')"
    return template(shape, *call.args), STRING


def _repeat(call: Call) -> Typed | None:
    if len(call.args) != 3:
        return None
    shape = "CASE WHEN {2} <= 0 THEN '' ELSE repeat({0} || {1}, {2} - 1) || {0} END"
    return template(shape, *call.args), STRING


def _regexp_like(call: Call) -> Typed | None:
    if len(call.args) == 2:
        return template("regexp_matches({0}, {1})", *call.args), BOOLEAN
    if len(call.args) != 3:
        return None
    flag = call.string(2, "match parameter").lower()
    if flag not in ("i", "c"):
        raise invalid(f"regexpLike: unknown match parameter {flag!r} (i, c)")
    return template("regexp_matches({0}, {1}, {2})", call.args[0], call.args[1], literal(flag)), BOOLEAN


def _regexp_extract(call: Call) -> Typed | None:
    """regexpExtract(s, pattern[, group[, default]]): the group of the first match, else default ('')."""
    if len(call.args) not in (2, 3, 4):
        return None
    group = call.args[2] if len(call.args) > 2 else literal(0)
    default = call.args[3] if len(call.args) == 4 else literal("")
    shape = "CASE WHEN regexp_matches({0}, {1}) THEN regexp_extract({0}, {1}, {2}) ELSE {3} END"
    return template(shape, call.args[0], call.args[1], group, default), STRING


def _java_replacement(node: Node) -> Node:
    """A java.util.regex replacement ($1 groups, \\$ escapes) as RE2's (\\1 groups)."""
    value = literal_value(node)
    if not isinstance(value, str):
        raise invalid("regexpReplace: the replacement must be a string literal")
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append("\\\\" if value[i + 1] == "\\" else value[i + 1])
            i += 2
        elif char == "$" and i + 1 < len(value) and value[i + 1].isdigit():
            out.append("\\" + value[i + 1])
            i += 2
        else:
            out.append(char)
            i += 1
    return literal("".join(out))


def _regexp_replace(call: Call) -> Typed | None:
    """regexpReplace(s, pattern, replacement): every match replaced (Java's replaceAll)."""
    if len(call.args) != 3:
        return None
    replacement = _java_replacement(call.args[2])
    return template("regexp_replace({0}, {1}, {2}, 'g')", call.args[0], call.args[1], replacement), STRING


def _double_math(function: str, arity: int = 1) -> Rule:
    """Pinot's ArithmeticFunctions take and return DOUBLE."""
    def rule(call: Call) -> Typed | None:
        if len(call.args) != arity:
            return None
        inner = ", ".join(f"CAST({{{i}}} AS DOUBLE)" for i in range(arity))
        return template(f"CAST({function}({inner}) AS DOUBLE)", *call.args), DOUBLE
    return rule


_DECIMAL = "CAST(CAST(CAST({0} AS DOUBLE) AS VARCHAR) AS DECIMAL(38, 18))"


def _decimal_scale(function: str, whole: str) -> Rule:
    """roundDecimal / truncate: BigDecimal.valueOf(a).setScale(scale, HALF_UP / DOWN), i.e. on the
    double's shortest decimal text; one argument: Math.round (half up) / truncation toward zero."""
    def rule(call: Call) -> Typed | None:
        if len(call.args) == 1:
            return template(f"CAST({whole} AS DOUBLE)", call.args[0]), DOUBLE
        if len(call.args) != 2:
            return None
        shape = (f"CASE WHEN NOT isfinite(CAST({{0}} AS DOUBLE)) OR abs(CAST({{0}} AS DOUBLE)) >= 1e19 "
                 f"THEN CAST({{0}} AS DOUBLE) ELSE CAST({function}({_DECIMAL}, {{1}}) AS DOUBLE) END")
        return template(shape, *call.args), DOUBLE
    return rule


def _divide(call: Call) -> Typed | None:
    if len(call.args) == 2:
        return template("CAST({0} AS DOUBLE) / CAST({1} AS DOUBLE)", *call.args), DOUBLE
    if len(call.args) != 3:
        return None
    shape = "CASE WHEN {1} = 0 THEN CAST({2} AS DOUBLE) ELSE CAST({0} AS DOUBLE) / CAST({1} AS DOUBLE) END"
    return template(shape, *call.args), DOUBLE


def _log(call: Call) -> Typed | None:
    """Pinot's LOG is the natural logarithm (DuckDB's one-argument log is base 10)."""
    return _double_math("ln")(call) if len(call.args) == 1 else None


def _simple(shape: str, result: PinotType | None, *arities: int) -> Rule:
    def rule(call: Call) -> Typed | None:
        return (template(shape, *call.args), result) if len(call.args) in arities else None
    return rule


STRING_FUNCTIONS: dict[str, Rule] = {
    "substr": _substr,
    "substring": _substring,
    "concat": _concat,
    "concatws": _simple("concat_ws({0}, {1}, {2})", STRING, 3),
    "trim": _trim,
    "ltrim": _one_sided_trim("ltrim"),
    "rtrim": _one_sided_trim("rtrim"),
    "left": _side("left"), "leftsubstr": _side("left"),
    "right": _side("right"), "rightsubstr": _side("right"),
    "strpos": _strpos,
    "strrpos": _strrpos,
    "startswith": _simple("starts_with({0}, {1})", BOOLEAN, 2),
    "endswith": _simple("ends_with({0}, {1})", BOOLEAN, 2),
    "lpad": _pad("lpad"),
    "rpad": _pad("rpad"),
    "codepoint": _simple("CAST(unicode({0}) AS INTEGER)", INT, 1),
    "split": _simple(_TOKENS, STRING_MV, 2), "stringtoarray": _simple(_TOKENS, STRING_MV, 2),
    "splitpart": _split_part,
    "repeat": _repeat,
    "remove": _simple("replace({0}, {1}, '')", STRING, 2),
    "hammingdistance": _simple("CAST(CASE WHEN length({0}) <> length({1}) THEN -1 ELSE hamming({0}, {1}) END "
                               "AS INTEGER)", INT, 2),
    "levenshteindistance": _simple("CAST(levenshtein({0}, {1}) AS INTEGER)", INT, 2),
    "isjson": _simple("json_valid({0})", BOOLEAN, 1),
    "toutf8": _simple("encode({0})", BYTES, 1),
    "fromutf8": _simple("decode({0})", STRING, 1),
    "tobase64": _simple("to_base64({0})", STRING, 1),
    "frombase64": _simple("from_base64({0})", BYTES, 1),
    "regexplike": _regexp_like,
    "regexpextract": _regexp_extract,
    "regexpreplace": _regexp_replace,
    "log": _log,
    "ln": _double_math("ln"),
    "log2": _double_math("log2"),
    "log10": _double_math("log10"),
    "exp": _double_math("exp"),
    "sqrt": _double_math("sqrt"),
    "cbrt": _double_math("cbrt"),
    "ceil": _double_math("ceil"), "ceiling": _double_math("ceil"),
    "floor": _double_math("floor"),
    "sign": _double_math("sign"),
    "power": _double_math("power", 2), "pow": _double_math("power", 2),
    "rounddecimal": _decimal_scale("round", "floor(CAST({0} AS DOUBLE) + 0.5)"),
    "truncate": _decimal_scale("trunc", "trunc(CAST({0} AS DOUBLE))"),
    "div": _divide, "divide": _divide,
    "intdiv": _simple("CAST(floor(CAST({0} AS DOUBLE) / CAST({1} AS DOUBLE)) AS BIGINT)", LONG, 2),
    "intdivorzero": _simple("CASE WHEN {1} = 0 THEN CAST(0 AS BIGINT) ELSE "
                            "CAST(floor(CAST({0} AS DOUBLE) / CAST({1} AS DOUBLE)) AS BIGINT) END", LONG, 2),
    "isfinite": _simple("CAST(isfinite(CAST({0} AS DOUBLE)) AS INTEGER)", INT, 1),
    "isinfinite": _simple("CAST(isinf(CAST({0} AS DOUBLE)) AS INTEGER)", INT, 1),
    "isnan": _simple("CAST(isnan(CAST({0} AS DOUBLE)) AS INTEGER)", INT, 1),
    "ifnotfinite": _simple("CASE WHEN isfinite(CAST({0} AS DOUBLE)) THEN CAST({0} AS DOUBLE) "
                           "ELSE CAST({1} AS DOUBLE) END", DOUBLE, 2),
    "isnull": _simple("({0} IS NULL)", BOOLEAN, 1),
    "isnotnull": _simple("({0} IS NOT NULL)", BOOLEAN, 1),
    "isdistinctfrom": _simple("({0} IS DISTINCT FROM {1})", BOOLEAN, 2),
    "isnotdistinctfrom": _simple("({0} IS NOT DISTINCT FROM {1})", BOOLEAN, 2),
}
