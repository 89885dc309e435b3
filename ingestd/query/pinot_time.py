"""Pinot's time functions as DuckDB expressions: epoch-millis LONG values in and out (as Pinot's
DateTimeFunctions, DateTruncTransformFunction and DateTimeConversionTransformFunction take them),
TIMESTAMP values read as their epoch millis, calendar fields in UTC or a named time zone.

A wall-clock time in zone Z is `timezone(Z, timezone('UTC', epoch_ms(ms)))` (a plain TIMESTAMP) and
back `epoch_ms(timezone('UTC', timezone(Z, wall)))`: no step depends on the session's TimeZone.
"""

from __future__ import annotations

from ingestd.query.joda import (
    CALENDAR_UNITS,
    SUB_MS_DIVISORS,
    UNIT_MS,
    TimeFormat,
    is_utc,
    iso_duration_ms,
    parse_format,
    parse_granularity,
    strftime_format,
    time_unit,
)
from ingestd.query.pinot_sql import (
    INT,
    LONG,
    STRING,
    TIMESTAMP,
    Call,
    Node,
    PinotType,
    Rule,
    Typed,
    as_long,
    invalid,
    literal,
    template,
)

_TRUNC_UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year")
_FIXED_UNITS = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000, "day": 86_400_000,
                "week": 604_800_000}
_CALENDAR_MONTHS = {"month": 1, "quarter": 3, "year": 12}
# Pinot's calendar-field functions (DateTimeFunctions, names canonicalised) → DuckDB date_part spec.
_FIELDS = {"year": "year", "yearofweek": "isoyear", "yow": "isoyear", "quarter": "quarter", "month": "month",
           "monthofyear": "month", "week": "week", "weekofyear": "week", "dayofyear": "doy", "doy": "doy",
           "day": "day", "dayofmonth": "day", "dayofweek": "isodow", "dow": "isodow", "hour": "hour",
           "minute": "minute", "second": "second", "millisecond": "millisecond"}
# EXTRACT(field FROM x) fields (DateTimeUtils.ExtractFieldType); DOW is ISO (Monday 1 .. Sunday 7).
_EXTRACT = {"year": "year", "quarter": "quarter", "month": "month", "week": "week", "day": "day",
            "doy": "doy", "dow": "isodow", "hour": "hour", "minute": "minute", "second": "second"}
# Joda-style field truncation keeping multiples of `size` within the next larger field
# (BaseDateTimeTransformer): {0} a wall-clock TIMESTAMP, {1} the size.
_FIELD_TRUNCATION = {
    "MILLISECONDS": "date_trunc('second', {0}) + to_milliseconds(CAST((date_part('millisecond', {0}) % 1000)"
                    " // {1} * {1} AS BIGINT))",
    "SECONDS": "date_trunc('minute', {0}) + to_seconds(CAST(second({0}) // {1} * {1} AS BIGINT))",
    "MINUTES": "date_trunc('hour', {0}) + to_minutes(CAST(minute({0}) // {1} * {1} AS BIGINT))",
    "HOURS": "date_trunc('day', {0}) + to_hours(CAST(hour({0}) // {1} * {1} AS BIGINT))",
    "DAYS": "date_trunc('month', {0}) + to_days(CAST((day({0}) - 1) // {1} * {1} AS INTEGER))",
}


def millis(call: Call, index: int) -> Node:
    return as_long(call.args[index], call.type(index))


def wall(ms: Node, zone: str) -> Node:
    """The wall-clock TIMESTAMP in `zone` of epoch millis `ms`."""
    if is_utc(zone):
        return template("epoch_ms({0})", ms)
    return template("timezone({1}, timezone('UTC', epoch_ms({0})))", ms, literal(zone))


def wall_of(call: Call, index: int, zone: str) -> Node:
    """Argument `index` (epoch millis or a TIMESTAMP) as a wall-clock TIMESTAMP in `zone`."""
    value, pinot = call.args[index], call.type(index)
    if pinot is not None and pinot.timestamp:
        if is_utc(zone):
            return value
        return template("timezone({1}, timezone('UTC', CAST({0} AS TIMESTAMP)))", value, literal(zone))
    return wall(millis(call, index), zone)


def instant_ms(wall_time: Node, zone: str) -> Node:
    """Epoch millis of a wall-clock TIMESTAMP in `zone`."""
    if is_utc(zone):
        return template("epoch_ms({0})", wall_time)
    return template("epoch_ms(timezone('UTC', timezone({1}, {0})))", wall_time, literal(zone))


def _zone(call: Call, index: int) -> str:
    return call.string(index, "time zone") if len(call.args) > index else "UTC"


def _to_epoch(unit_ms: int, mode: str) -> Rule:
    def rule(call: Call) -> Typed | None:
        if len(call.args) != (1 if mode == "plain" else 2):
            return None
        ms, unit = millis(call, 0), literal(unit_ms)
        if mode == "plain":
            return template("{0} // {1}", ms, unit), LONG
        step = as_long(call.args[1], call.type(1))
        shape = "{0} // {1} // {2} * {2}" if mode == "rounded" else "{0} // {1} // {2}"
        return template(shape, ms, unit, step), LONG
    return rule


def _from_epoch(unit_ms: int, bucket: bool) -> Rule:
    def rule(call: Call) -> Typed | None:
        if len(call.args) != (2 if bucket else 1):
            return None
        value = millis(call, 0)
        if bucket:
            bucket_size = as_long(call.args[1], call.type(1))
            return template("{0} * {2} * {1}", value, literal(unit_ms), bucket_size), LONG
        return template("{0} * {1}", value, literal(unit_ms)), LONG
    return rule


def _field(name: str) -> Rule:
    spec = _FIELDS[name]

    def rule(call: Call) -> Typed | None:
        if len(call.args) not in (1, 2):
            return None
        when = wall_of(call, 0, _zone(call, 1))
        if spec == "millisecond":
            return template("CAST(date_part('millisecond', {0}) % 1000 AS INTEGER)", when), INT
        return template("CAST(date_part({1}, {0}) AS INTEGER)", when, literal(spec)), INT
    return rule


def _date_part(call: Call) -> Typed | None:
    """EXTRACT(field FROM x), parsed by DuckDB as date_part('field', x): x may be epoch millis."""
    if len(call.args) != 2 or not isinstance(field := _literal_str(call.args[0]), str):
        return None
    spec = _EXTRACT.get(field.lower())
    pinot = call.type(1)
    if spec is None:
        if pinot is not None and pinot.integral:
            return template("date_part({0}, {1})", call.args[0], wall_of(call, 1, "UTC")), None
        return None
    return template("CAST(date_part({1}, {0}) AS INTEGER)", wall_of(call, 1, "UTC"), literal(spec)), INT


def _literal_str(node: Node) -> str | None:
    literal_node = node.get("literal") if node.get("class") == "CONSTANT" else None
    return literal_node["text"] if literal_node and literal_node["kind"] == "STRING" else None


def _to_unit_ms(value: Node, unit: str) -> Node:
    """TimeUnit.MILLISECONDS.convert(value, unit)."""
    if unit in SUB_MS_DIVISORS:
        return template("{0} // {1}", value, literal(SUB_MS_DIVISORS[unit]))
    return value if unit == "MILLISECONDS" else template("{0} * {1}", value, literal(UNIT_MS[unit]))


def _from_unit_ms(ms: Node, unit: str) -> Node:
    """TimeUnit.valueOf(unit).convert(ms, MILLISECONDS) (truncating, as Java's long division)."""
    if unit in SUB_MS_DIVISORS:
        return template("{0} * {1}", ms, literal(SUB_MS_DIVISORS[unit]))
    return ms if unit == "MILLISECONDS" else template("{0} // {1}", ms, literal(UNIT_MS[unit]))


def date_trunc(call: Call) -> Typed | None:
    """dateTrunc(unit, value[, inputTimeUnit[, timeZone[, outputTimeUnit]]]): LONG in the output unit."""
    if not 2 <= len(call.args) <= 5:
        return None
    unit = call.string(0, "unit").lower()
    if unit not in _TRUNC_UNITS:
        raise invalid(f"dateTrunc: {unit!r} is not a valid unit ({', '.join(_TRUNC_UNITS)})")
    input_unit = time_unit(call.string(2, "input time unit")) if len(call.args) > 2 else "MILLISECONDS"
    zone = _zone(call, 3)
    output_unit = time_unit(call.string(4, "output time unit")) if len(call.args) > 4 else input_unit
    pinot = call.type(1)
    if input_unit == "MILLISECONDS" and pinot is not None and pinot.timestamp:
        when = wall_of(call, 1, zone)
    else:
        when = wall(_to_unit_ms(millis(call, 1), input_unit), zone)
    truncated = instant_ms(template("date_trunc({1}, {0})", when, literal(unit)), zone)
    return _from_unit_ms(truncated, output_unit), LONG


def date_time_convert(call: Call) -> Typed | None:
    """dateTimeConvert(value, inputFormat, outputFormat, outputGranularity[, bucketTimeZone])."""
    if len(call.args) not in (4, 5):
        return None
    source = parse_format(call.string(1, "input format"))
    target = parse_format(call.string(2, "output format"))
    size, unit = parse_granularity(call.string(3, "granularity"))
    bucket_zone = call.string(4, "bucketing time zone") if len(call.args) == 5 else None
    if source.kind == "EPOCH" and source.unit in CALENDAR_UNITS:
        raise invalid(f"dateTimeConvert: {source.unit} is not an input time unit")
    ms = _input_ms(call, source)
    if target.kind != "SIMPLE_DATE_FORMAT":
        if bucket_zone is not None:
            bucketed = instant_ms(_truncate_fields(wall(ms, bucket_zone), size, unit), bucket_zone)
            if source.kind == "SIMPLE_DATE_FORMAT":
                return bucketed, LONG  # Pinot's SDFToEpochTransformer returns millis on this path
        else:
            step = literal(size * UNIT_MS[unit])
            bucketed = ms if size * UNIT_MS[unit] == 1 else template("{0} // {1} * {1}", ms, step)
        return _epoch_output(bucketed, target), LONG
    if bucket_zone is not None:
        ms = instant_ms(_truncate_fields(wall(ms, bucket_zone), size, unit), bucket_zone)
        return _format(wall(ms, target.zone), target), STRING
    return _format(_truncate_fields(wall(ms, target.zone), size, unit), target), STRING


def _input_ms(call: Call, source: TimeFormat) -> Node:
    value, pinot = call.args[0], call.type(0)
    if source.kind == "SIMPLE_DATE_FORMAT":
        is_text = pinot is not None and pinot.name == "STRING"
        text = value if is_text else template("CAST({0} AS VARCHAR)", value)
        return instant_ms(_parse(text, source.pattern, source.zone, strict=True), source.zone)
    ms = as_long(value, pinot)
    if source.kind == "TIMESTAMP":
        return ms
    scaled = template("{0} * {1}", ms, literal(source.size)) if source.size != 1 else ms
    return _to_unit_ms(scaled, source.unit)


def _epoch_output(ms: Node, target: TimeFormat) -> Node:
    if target.kind == "TIMESTAMP" or (target.unit == "MILLISECONDS" and target.size == 1):
        return ms
    if target.unit in ("MONTHS", "YEARS"):
        value = template("date_sub({1}, TIMESTAMP '1970-01-01', epoch_ms({0}))", ms,
                         literal(target.unit[:-1].lower()))
    elif target.unit == "WEEKS":
        value = template("{0} // 604800000", ms)
    else:
        value = _from_unit_ms(ms, target.unit)
    return value if target.size == 1 else template("{0} // {1}", value, literal(target.size))


def _truncate_fields(wall_time: Node, size: int, unit: str) -> Node:
    if size == 1:
        return template("date_trunc({1}, {0})", wall_time, literal(unit[:-1].lower()))
    return template(_FIELD_TRUNCATION[unit], wall_time, literal(size))


def _format(wall_time: Node, target: TimeFormat) -> Node:
    if target.pattern is None:  # ISODateTimeFormat.dateTimeNoMillis()
        suffix = "Z" if is_utc(target.zone) else None
        if suffix is None:
            raise invalid("dateTimeConvert: an ISO output format is supported for UTC only")
        return template("strftime({0}, '%Y-%m-%dT%H:%M:%SZ')", wall_time)
    return template("strftime({0}, {1})", wall_time, literal(strftime_format(target.pattern, target.zone)))


def _parse(text: Node, pattern: str | None, zone: str, strict: bool) -> Node:
    """The wall-clock TIMESTAMP a string holds, read with a Joda pattern (None: ISO-8601)."""
    if pattern is None:
        return template("CAST({0} AS TIMESTAMP)" if strict else "TRY_CAST({0} AS TIMESTAMP)", text)
    function = "strptime" if strict else "try_strptime"
    return template(f"{function}({{0}}, {{1}})", text, literal(strftime_format(pattern, zone)))


def to_date_time(call: Call) -> Typed | None:
    if len(call.args) not in (2, 3):
        return None
    zone = _zone(call, 2)
    pattern = strftime_format(call.string(1, "pattern"), zone)
    return template("strftime({0}, {1})", wall_of(call, 0, zone), literal(pattern)), STRING


def from_date_time(call: Call) -> Typed | None:
    if len(call.args) not in (2, 3, 4):
        return None
    zone = _zone(call, 2)
    text = call.args[0]
    if len(call.args) == 4:
        parsed = instant_ms(_parse(text, call.string(1, "pattern"), zone, strict=False), zone)
        return template("COALESCE({0}, {1})", parsed, as_long(call.args[3], call.type(3))), LONG
    return instant_ms(_parse(text, call.string(1, "pattern"), zone, strict=True), zone), LONG


def _add(call: Call) -> Typed | None:
    """timestampAdd(unit, interval, timestamp) on epoch millis (ISO chronology, UTC)."""
    if len(call.args) != 3:
        return None
    unit, amount, ms = _diff_unit(call), as_long(call.args[1], call.type(1)), millis(call, 2)
    if unit in _FIXED_UNITS:
        return template("{0} + {1} * {2}", ms, amount, literal(_FIXED_UNITS[unit])), LONG
    months = template("CAST({0} * {1} AS INTEGER)", amount, literal(_CALENDAR_MONTHS[unit]))
    return template("epoch_ms(epoch_ms({0}) + to_months({1}))", ms, months), LONG


def _diff(call: Call) -> Typed | None:
    """timestampDiff(unit, t1, t2): whole units from t1 to t2, truncated toward zero (Joda)."""
    if len(call.args) != 3:
        return None
    unit, first, second = _diff_unit(call), millis(call, 1), millis(call, 2)
    if unit in _FIXED_UNITS:
        return template("({1} - {0}) // {2}", first, second, literal(_FIXED_UNITS[unit])), LONG
    months = template("date_sub('month', epoch_ms({0}), epoch_ms({1}))", first, second)
    step = _CALENDAR_MONTHS[unit]
    return (months, LONG) if step == 1 else (template("{0} // {1}", months, literal(step)), LONG)


def _diff_unit(call: Call) -> str:
    unit = call.string(0, "unit").lower()
    if unit not in _TRUNC_UNITS:
        raise invalid(f"{call.name}: {unit!r} is not a valid unit ({', '.join(_TRUNC_UNITS)})")
    return unit


def _round(call: Call) -> Typed | None:
    """round(timeValue, roundToNearest): Pinot's only ROUND, a long rounded down to a multiple."""
    if len(call.args) != 2:
        return None
    return template("{0} // {1} * {1}", millis(call, 0), as_long(call.args[1], call.type(1))), LONG


def _time_convert(call: Call) -> Typed | None:
    if len(call.args) != 3:
        return None
    source, target = time_unit(call.string(1, "input unit")), time_unit(call.string(2, "output unit"))
    return _from_unit_ms(_to_unit_ms(millis(call, 0), source), target), LONG


def _simple(shape: str, result: PinotType, arity: int, convert: bool = True) -> Rule:
    def rule(call: Call) -> Typed | None:
        if len(call.args) != arity:
            return None
        return template(shape, *([millis(call, 0)] if convert else call.args)), result
    return rule


def _ago(call: Call) -> Typed | None:
    if len(call.args) != 1:
        return None
    return template("epoch_ms(now()) - {0}", literal(iso_duration_ms(call.string(0, "duration")))), LONG


_ISO_TEXT = ("CASE WHEN {0} % 1000 = 0 THEN strftime(epoch_ms({0}), '%Y-%m-%dT%H:%M:%SZ') "
             "ELSE strftime(epoch_ms({0}), '%Y-%m-%dT%H:%M:%S.%gZ') END")

TIME_FUNCTIONS: dict[str, Rule] = {
    "now": _simple("epoch_ms(now())", LONG, 0, convert=False),
    "ago": _ago,
    "datetrunc": date_trunc,
    "datetimeconvert": date_time_convert,
    "todatetime": to_date_time,
    "fromdatetime": from_date_time,
    "toiso8601": _simple(_ISO_TEXT, STRING, 1),
    "fromiso8601": _simple("epoch_ms(CAST({0} AS TIMESTAMPTZ))", LONG, 1, convert=False),
    "totimestamp": _simple("epoch_ms({0})", TIMESTAMP, 1),
    "fromtimestamp": _simple("{0}", LONG, 1),
    "timestampadd": _add, "dateadd": _add,
    "timestampdiff": _diff, "datediff": _diff,
    "round": _round,
    "timeconvert": _time_convert,
    "datepart": _date_part,
    **{name: _field(name) for name in _FIELDS},
}
for _unit_name, _unit_ms in (("seconds", 1_000), ("minutes", 60_000), ("hours", 3_600_000),
                             ("days", 86_400_000)):
    TIME_FUNCTIONS[f"toepoch{_unit_name}"] = _to_epoch(_unit_ms, "plain")
    TIME_FUNCTIONS[f"toepoch{_unit_name}rounded"] = _to_epoch(_unit_ms, "rounded")
    TIME_FUNCTIONS[f"toepoch{_unit_name}bucket"] = _to_epoch(_unit_ms, "bucket")
    TIME_FUNCTIONS[f"fromepoch{_unit_name}"] = _from_epoch(_unit_ms, bucket=False)
    TIME_FUNCTIONS[f"fromepoch{_unit_name}bucket"] = _from_epoch(_unit_ms, bucket=True)
