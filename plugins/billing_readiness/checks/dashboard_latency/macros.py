"""The Grafana ClickHouse data source plugin's macros, expanded as the plugin expands them.

Two halves, as in the plugin:
- the frontend (the browser, before the query is sent): `$__conditionalAll(cond, $var)` and ad hoc filters
  (`applyConditionalAll`, `AdHocFilter.apply` and `applyAdHocFiltersMacro` in `src/data/CHDatasource.ts`
  and `src/data/adHocFilter.ts`);
- the backend (inside Grafana, on the query's time range and interval): `$__timeFilter(col)` and the rest of
  the table in the plugin's README, written from `pkg/macros/macros.go` of grafana-clickhouse-datasource
  v4.3.2 (the version docker-compose.yaml installs; unchanged in current releases).

Through Grafana (check 3's "grafana" mode) we do what the browser does and Grafana does the rest; in direct
mode we do both. Arguments are split at top-level commas, so `$__timeFilter(toDateTime(t, 'UTC'))` is one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from billing_readiness.core.errors import CheckError

UTC = dt.timezone.utc


class MacroError(CheckError):
    """A macro that is misused or not the plugin's; the message names it."""


@dataclass(frozen=True)
class MacroContext:
    """What the plugin's backend knows of a query: its time range (epoch ms) and interval (ms)."""

    from_ms: int
    to_ms: int
    interval_ms: int


def _date_time(ms: int) -> str:  # timeToDateTime: seconds precision
    return f"toDateTime({ms // 1000})"


def _date_time64(ms: int) -> str:  # timeToDateTime64: milliseconds
    return f"fromUnixTimestamp64Milli({ms})"


def _date(ms: int) -> str:  # timeToDate: the UTC date (Go's t.Format("2006-01-02") of a UTC time)
    return f"toDate('{dt.datetime.fromtimestamp(ms / 1000, UTC):%Y-%m-%d}')"


def _between(col: str, low: str, high: str) -> str:
    return f"{col} >= {low} AND {col} <= {high}"


def _one(name: str, args: list[str]) -> str:
    if len(args) != 1:
        raise MacroError(f"$__{name} expects 1 argument, got {len(args)}")
    return args[0]


def _interval_seconds(ctx: MacroContext) -> int:
    return int(max(ctx.interval_ms / 1000, 1))


def _date_time_filter(ctx: MacroContext, args: list[str]) -> str:
    if len(args) != 2:
        raise MacroError(f"$__dateTimeFilter expects 2 arguments (date column, time column), got {len(args)}")
    date_col, time_col = args
    return (
        f"({_between(date_col, _date(ctx.from_ms), _date(ctx.to_ms))}) AND "
        f"({_between(time_col, _date_time(ctx.from_ms), _date_time(ctx.to_ms))})"
    )


# name -> expansion, as `Macros` in pkg/macros/macros.go maps them
BACKEND = {
    "fromTime": lambda ctx, a: _date_time(ctx.from_ms),
    "toTime": lambda ctx, a: _date_time(ctx.to_ms),
    "fromTime_ms": lambda ctx, a: _date_time64(ctx.from_ms),
    "toTime_ms": lambda ctx, a: _date_time64(ctx.to_ms),
    "timeFilter": lambda ctx, a: _between(_one("timeFilter", a), _date_time(ctx.from_ms), _date_time(ctx.to_ms)),
    "timeFilter_ms": lambda ctx, a: _between(
        _one("timeFilter_ms", a), _date_time64(ctx.from_ms), _date_time64(ctx.to_ms)
    ),
    "dateFilter": lambda ctx, a: _between(_one("dateFilter", a), _date(ctx.from_ms), _date(ctx.to_ms)),
    "dateTimeFilter": _date_time_filter,
    "dt": _date_time_filter,
    "timeInterval": lambda ctx, a: (
        f"toStartOfInterval(toDateTime({_one('timeInterval', a)}), INTERVAL {_interval_seconds(ctx)} second)"
    ),
    "timeInterval_ms": lambda ctx, a: (
        f"toStartOfInterval(toDateTime64({_one('timeInterval_ms', a)}, 3), "
        f"INTERVAL {int(max(ctx.interval_ms, 1))} millisecond)"
    ),
    "interval_s": lambda ctx, a: str(_interval_seconds(ctx)),
}
FRONTEND = ("conditionalAll", "adHocFilters")
_NAME = re.compile(r"\$__(\w+)")
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")
# String literals, backquoted names and comments, where the current plugin (macropro) expands no macro
_QUOTED_OR_COMMENT = re.compile(r"'(?:[^'\\]|\\.)*'|`[^`]*`|--[^\n]*|/\*.*?\*/", re.S)


def call_args(sql: str, open_paren: int) -> tuple[list[str], int] | None:
    """The top-level comma-separated arguments of the call whose "(" is at `open_paren`, and the index after
    its ")"; None when the parentheses do not close. Quoted strings are skipped."""
    depth, start, args, i = 0, open_paren + 1, [], open_paren
    while i < len(sql):
        c = sql[i]
        if c == "'":
            m = _LITERAL.match(sql, i)
            i = m.end() if m else len(sql)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i])
                return [a.strip() for a in args] if any(a.strip() for a in args) else [], i + 1
        elif c == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
        i += 1
    return None


def expand_backend(sql: str, ctx: MacroContext) -> str:
    """`sql` with every backend macro of the plugin expanded (what Grafana runs on ClickHouse). A `$__name`
    the plugin does not know is an error here; Grafana would pass it to ClickHouse, which refuses it. Macros in
    string literals and comments stay, as the current plugin (macropro) leaves them."""
    out, pos = [], 0
    quoted = [(q.start(), q.end()) for q in _QUOTED_OR_COMMENT.finditer(sql)]
    for m in _NAME.finditer(sql):
        if m.start() < pos or any(a <= m.start() < b for a, b in quoted):
            continue
        name = m.group(1)
        if name not in BACKEND:
            raise MacroError(
                f"$__{name} is not a macro of the ClickHouse data source plugin (known: "
                + ", ".join(f"$__{n}" for n in (*BACKEND, *FRONTEND))
                + ")"
            )
        end, args = m.end(), list[str]()
        if end < len(sql) and sql[end] == "(":
            parsed = call_args(sql, end)
            if parsed is None:
                raise MacroError(f"$__{name}( has no closing parenthesis")
            args, end = parsed
        out += [sql[pos : m.start()], BACKEND[name](ctx, args)]
        pos = end
    out.append(sql[pos:])
    return "".join(out)


def apply_conditional_all(sql: str, selects_all) -> str:
    """$__conditionalAll(condition, $var) -> condition, or 1=1 when `selects_all(var)` (the variable's
    value is "All" or empty). From the last occurrence to the first, as applyConditionalAll does."""
    macro = "$__conditionalAll("
    while (i := sql.rfind(macro)) != -1:
        parsed = call_args(sql, i + len(macro) - 1)
        if parsed is None or len(parsed[0]) != 2:
            raise MacroError("$__conditionalAll expects 2 arguments (condition, $variable)")
        (condition, var), end = parsed
        m = re.search(r"(?<=\$\{)\w+(?=\})|(?<=\$)\w+", var)
        phrase = "1=1" if m and selects_all(m.group(0)) else condition
        sql = sql[:i] + phrase + sql[end:]
    return sql


@dataclass(frozen=True)
class AdHocFilter:
    key: str
    operator: str
    value: str
    condition: str = ""


_OPERATORS = {"=": "=", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "=~": "ILIKE", "!~": "NOT ILIKE"}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def adhoc_filter_string(filters: list[AdHocFilter]) -> str:
    """The filters as the plugin joins them: ` key op \\'value\\' AND ...` (a table prefix of the key dropped).
    Values are escaped (the plugin since 4.x escapes them too); an unknown operator is an error."""
    parts = []
    for i, f in enumerate(filters):
        if f.operator not in _OPERATORS:
            raise MacroError(
                f"ad hoc filter on {f.key!r}: operator {f.operator!r} is not one the plugin knows "
                f"({', '.join(_OPERATORS)})"
            )
        key = f.key.split(".")[1] if "." in f.key else f.key
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise MacroError(f"ad hoc filter key {f.key!r} is not a column name")
        condition = (f.condition or "AND") if i != len(filters) - 1 else ""
        parts.append(f" {key} {_OPERATORS[f.operator]} \\'{_escape(_escape(str(f.value)))}\\' {condition}")
    return "".join(parts)


def first_table(sql: str) -> str:
    """The table of the first FROM (getTable of the plugin's AST), without database or quotes; "" if none."""
    m = re.search(r"\bFROM\s+(?:[`\"]?\w+[`\"]?\.)?[`\"]?(\w+)[`\"]?", _LITERAL.sub("''", sql), re.I)
    return m.group(1) if m else ""


def apply_adhoc(sql: str, filters: list[AdHocFilter]) -> str:
    """Ad hoc filters: `$__adHocFilters('t1', 't2')` becomes `additional_table_filters={...}`; without the
    macro, ` settings additional_table_filters={'<first table>' : '<filters>'}` is appended (as the plugin does).
    No filters: the SQL is unchanged, except that the macro becomes `additional_table_filters={}`."""
    macro = re.compile(r"\$__adHocFilters\s*\(([^)]+)\)")
    text = adhoc_filter_string(filters) if filters else ""
    if macro.search(sql):

        def one(m):
            tables = re.findall(r"['\"]([^'\"]+)['\"]", m.group(1))
            if not tables:
                raise MacroError("$__adHocFilters expects quoted table names, e.g. $__adHocFilters('usage_hourly')")
            if not text:
                return "additional_table_filters={}"
            return "additional_table_filters={" + ", ".join(f"'{t}': '{text}'" for t in tables) + "}"

        return macro.sub(one, sql)
    if not text:
        return sql
    table = first_table(sql)
    if not table:
        return sql
    return f"{sql.replace(';', '', 1)} settings additional_table_filters={{'{table}' : '{text}'}}"
