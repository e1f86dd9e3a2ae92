"""A dashboard's template variables, resolved and substituted as Grafana's frontend does.

Resolution follows the dashboard's `templating.list` in order (a variable may use the ones before it):
constant (its query), textbox and custom (their `current`, else the first option), interval (`current`;
"auto" from the range), datasource (`current`), query variables by running their SQL (`current` when still
an option, else the first, as Grafana picks after a refresh), ad hoc filters (their `filters`). The tenant
variable is the tenant being timed.

Substitution is templateSrv.replace: `$var`, `${var}`, `${var:format}`, `[[var]]`; a multi-value or "All"
value is formatted as the ClickHouse plugin's `format` does ('a','b'), and Grafana's built-ins
($__from, $__to, ${__from:date:seconds}, $__interval, $__interval_ms, $__range, $__range_s, $__range_ms,
$__dashboard, $__timezone) are filled in. Grafana pastes values as they are, so a value holding a quote or a
backslash would change the panel's SQL: that is refused, naming the variable, in both modes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from billing_readiness.checks.dashboard_latency.macros import AdHocFilter
from billing_readiness.checks.dashboard_latency.timerange import TimeRange, calculate_interval
from billing_readiness.core.errors import CheckError

ALL = "$__all"
UTC = dt.timezone.utc
# Grafana's variableRegex: $name | [[name:format]] | ${name.path:format}
VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
UNSAFE = re.compile(r"['\\]")


class VariableError(CheckError):
    """A variable that cannot be resolved or substituted; the message names it."""


@dataclass
class Value:
    """A variable's resolved value: one or more values, or All (every option, or the custom all value)."""

    name: str
    type: str
    values: list[str]
    is_all: bool = False
    all_value: str | None = None
    multi: bool = False
    text: str = ""
    filters: list[AdHocFilter] = field(default_factory=list)  # ad hoc variables
    datasource_type: str | None = None


RunQuery = Callable[[str, dict], list[list]]  # (SQL, the variable's datasource ref) -> rows


def _current(var: dict) -> list[str]:
    cur = (var.get("current") or {}).get("value")
    if cur is None or cur == "":
        return []
    return [str(v) for v in cur] if isinstance(cur, list) else [str(cur)]


def _custom_options(query: str) -> list[tuple[str, str]]:
    """Options of a custom variable: comma-separated ("\\," escapes a comma), each "text : value" or a value."""
    options = []
    for part in re.findall(r"(?:\\,|[^,])+", query or ""):
        part = part.strip().replace("\\,", ",")
        text, sep, value = part.partition(" : ")
        options.append((text.strip(), value.strip()) if sep else (part, part))
    return options


def _pick(var: dict, options: list[str]) -> tuple[list[str], bool]:
    """The selected values among `options`: `current` where it still is one, else the first (or All)."""
    current = _current(var)
    if current and current[0] == ALL:
        if var.get("includeAll"):
            return options, True
        current = []
    kept = [v for v in current if v in options]
    if kept:
        return (kept if var.get("multi") else kept[:1]), False
    if var.get("includeAll") and not options:
        return [], True
    return options[:1], False


def _regex_filter(pattern: str, values: list[str], name: str) -> list[str]:
    """The query variable's `regex` (a /js regex/flags or plain pattern): matching values, group 1 if any."""
    m = re.fullmatch(r"/(.*)/([gimsuy]*)", pattern, re.S)
    body, flags = (m.group(1), m.group(2)) if m else (pattern, "")
    try:  # JavaScript's named groups (?<name>...) are Python's (?P<name>...)
        rx = re.compile(re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", body), re.I if "i" in flags else 0)
    except re.error as exc:
        raise VariableError(f"variable '{name}': regex {pattern!r} is not one Python can read: {exc}") from None
    out = []
    for v in values:
        hit = rx.search(v)
        if hit:
            picked = hit.groupdict().get("value") or (hit.group(1) if hit.groups() else v)
            if picked is not None and picked not in out:
                out.append(picked)
    return out


_SORTS = {
    1: (False, False),
    2: (True, False),
    3: (False, True),
    4: (True, True),
    5: (False, False),
    6: (True, False),
    7: (False, False),
    8: (True, False),
}


def _sort(values: list[str], sort: int) -> list[str]:
    if not sort or sort not in _SORTS:
        return values
    reverse, numeric = _SORTS[sort]

    def key(v):
        if numeric:
            m = re.search(r"-?\d+(\.\d+)?", v)
            return (0, float(m.group(0))) if m else (1, 0.0)
        return (0, v.lower() if sort in (5, 6, 7, 8) else v)

    return sorted(values, key=key, reverse=reverse)


def resolve(
    dashboard: dict,
    time_range: TimeRange,
    *,
    tenant_variable: str,
    tenant: str,
    run_query: RunQuery | None,
    datasource_types: tuple[str, ...] | None,
) -> dict[str, Value]:
    """Every variable of the dashboard, in order. `run_query` runs a query variable's SQL (interpolated with
    the variables before it) on its data source; None: query variables keep their saved options.
    `datasource_types`: the data sources whose queries can be run (None: any, Grafana runs them)."""
    resolved: dict[str, Value] = {}
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if not isinstance(var, dict) or not var.get("name"):
            continue
        name, kind = str(var["name"]), str(var.get("type") or "query")
        if name == tenant_variable:
            resolved[name] = Value(name, kind, [tenant], text=tenant)
            continue
        value = _resolve_one(var, name, kind, resolved, time_range, run_query, datasource_types)
        if value is not None:
            resolved[name] = value
    resolved.setdefault(tenant_variable, Value(tenant_variable, "query", [tenant], text=tenant))
    return resolved


def _resolve_one(var, name, kind, resolved, time_range, run_query, datasource_types) -> Value | None:
    multi, all_value = bool(var.get("multi")), var.get("allValue") or None
    if kind == "constant":
        return Value(name, kind, [str(var.get("query") or "")])
    if kind == "textbox":
        return Value(name, kind, _current(var)[:1] or [str(var.get("query") or "")])
    if kind in ("custom", "interval"):
        options = [v for _, v in _custom_options(str(var.get("query") or ""))]
        current = _current(var)
        if kind == "interval" and current and current[0].startswith("$__auto_interval"):
            auto = calculate_interval(time_range, int(var.get("auto_count") or 30), var.get("auto_min") or "10s")
            return Value(name, kind, [auto.text])
        values, is_all = _pick(var, options)
        return Value(name, kind, values, is_all, all_value, multi)
    if kind == "datasource":
        current = _current(var)
        return Value(name, kind, current[:1], datasource_type=var.get("query"))
    if kind == "adhoc":
        filters = [
            AdHocFilter(str(f.get("key")), str(f.get("operator")), str(f.get("value")), str(f.get("condition") or ""))
            for f in var.get("filters") or []
            if f.get("key") not in (None, "") and f.get("value") is not None
        ]
        return Value(
            name,
            kind,
            [],
            filters=filters,
            datasource_type=(var.get("datasource") or {}).get("type")
            if isinstance(var.get("datasource"), dict)
            else None,
        )
    if kind == "query":
        return _query_variable(var, name, resolved, time_range, run_query, datasource_types)
    return None  # other kinds (e.g. "groupby", "switch") are named if a panel uses them


def _query_variable(var, name, resolved, time_range, run_query, datasource_types) -> Value:
    query = var.get("query")
    sql = query.get("rawSql") or query.get("query") if isinstance(query, dict) else query
    ds = var.get("datasource") if isinstance(var.get("datasource"), dict) else {}
    ds = {**ds, "uid": interpolate(str(ds["uid"]), resolved, time_range)} if ds.get("uid") else ds
    if datasource_types is not None and ds.get("type") and ds["type"] not in datasource_types:
        raise VariableError(
            f"variable '{name}' is a query of data source type '{ds['type']}', not ClickHouse: "
            "direct mode cannot run it; run check 3 through Grafana (config dashboard.mode)"
        )
    saved = [
        str(o.get("value"))
        for o in var.get("options") or []
        if isinstance(o, dict) and o.get("value") not in (None, ALL)
    ]
    if run_query is None or not sql or (var.get("refresh") in (0, None) and saved):
        options = saved
    else:
        from billing_readiness.checks.dashboard_latency.macros import apply_conditional_all

        text = apply_conditional_all(str(sql), lambda v: v in resolved and selects_all(resolved[v]))
        rows = run_query(interpolate(text, resolved, time_range), ds)
        options = []
        for row in rows:
            if row:
                value = str(row[0])
                if value not in options:
                    options.append(value)
    if var.get("regex"):
        options = _regex_filter(str(var["regex"]), options, name)
    options = _sort(options, int(var.get("sort") or 0))
    values, is_all = _pick(var, options)
    return Value(name, "query", values, is_all, var.get("allValue") or None, bool(var.get("multi")))


def selects_all(value: Value) -> bool:
    """What $__conditionalAll treats as "every value": All, or nothing selected."""
    return value.is_all or not value.values or value.values == [""]


# ---- substitution --------------------------------------------------------------------------------------


def _check_safe(value: str, name: str) -> str:
    if UNSAFE.search(value):
        raise VariableError(
            f"variable '{name}' has the value {value!r}, which holds a quote or a backslash: Grafana pastes "
            "values into the panel's SQL as they are, so this dashboard breaks (or reads something else) for it"
        )
    return value


def _format(value: Value, fmt: str | None, name: str) -> str:
    values = [_check_safe(v, name) for v in value.values]
    if value.is_all and value.all_value is not None and not fmt:
        return _check_safe(value.all_value, name)
    many = value.is_all or value.multi or len(values) > 1
    if not fmt:  # the ClickHouse plugin's format(): arrays as 'a','b'; one value as it is
        return "'" + "','".join(values) + "'" if many else (values[0] if values else "")
    formats = {
        "csv": lambda: ",".join(values),
        "raw": lambda: ",".join(values),
        "text": lambda: ",".join(values),
        "pipe": lambda: "|".join(values),
        "sqlstring": lambda: ",".join("'" + v.replace("'", "''") + "'" for v in values),
        "singlequote": lambda: ",".join("'" + v + "'" for v in values),
        "doublequote": lambda: ",".join('"' + v + '"' for v in values),
        "json": lambda: json.dumps(values if many else (values[0] if values else "")),
        "glob": lambda: "{" + ",".join(values) + "}" if many else (values[0] if values else ""),
        "regex": lambda: (
            "(" + "|".join(re.escape(v) for v in values) + ")" if many else re.escape(values[0] if values else "")
        ),
        "percentencode": lambda: quote(",".join(values), safe=""),
    }
    if fmt not in formats:
        raise VariableError(f"variable '{name}': format ':{fmt}' is not one check 3 reproduces ({', '.join(formats)})")
    return formats[fmt]()


def builtins(time_range: TimeRange, interval_ms: int | None, interval_text: str | None, dashboard: dict) -> dict:
    """Grafana's global variables for one panel's query."""
    range_ms = time_range.to_ms - time_range.from_ms
    out = {
        "__from": str(time_range.from_ms),
        "__to": str(time_range.to_ms),
        "__range_ms": str(range_ms),
        "__range_s": str(round(range_ms / 1000)),
        "__range": f"{round(range_ms / 1000)}s",
        "__dashboard": str(dashboard.get("title") or ""),
        "__timezone": time_range.timezone,
    }
    if interval_ms is not None:
        out["__interval_ms"] = str(interval_ms)
        out["__interval"] = interval_text or f"{interval_ms}ms"
    return out


def _time_builtin(name: str, fmt: str, time_range: TimeRange) -> str:
    ms = time_range.from_ms if name == "__from" else time_range.to_ms
    if fmt in ("date", "date:iso"):
        return dt.datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    if fmt == "date:seconds":
        return str(ms // 1000)
    raise VariableError(
        f"${{{name}:{fmt}}}: check 3 reproduces ${{{name}}}, ${{{name}:date}}, "
        f"${{{name}:date:iso}} and ${{{name}:date:seconds}}"
    )


def interpolate(sql: str, values: dict[str, Value], time_range: TimeRange, extra: dict | None = None) -> str:
    """`sql` with every variable Grafana would substitute substituted. A `$name` that is neither a variable
    nor a built-in stays (macros such as $__timeFilter are the backend's)."""
    extra = {**builtins(time_range, None, None, {}), **(extra or {})}

    def one(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(6)
        if m.group(5):
            raise VariableError(f"{m.group(0)}: field paths of variables are not reproduced by check 3")
        if name in ("__from", "__to") and fmt:
            return _time_builtin(name, fmt, time_range)
        if name in extra:
            return extra[name]
        if name in values:
            if values[name].type == "adhoc":
                raise VariableError(f"{m.group(0)}: an ad hoc variable is applied as filters, not pasted")
            return _format(values[name], fmt, name)
        return m.group(0)

    return VARIABLE.sub(one, sql)


def leftover(sql: str, known_macros) -> str | None:
    """The first variable reference Grafana would have left in `sql` (unknown to the dashboard), or None."""
    for m in VARIABLE.finditer(sql):
        name = m.group(1) or m.group(2) or m.group(4)
        if m.group(1) and name.startswith("__") and name[2:] in known_macros:
            continue
        return m.group(0)
    return None
