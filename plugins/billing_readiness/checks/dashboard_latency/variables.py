"""A dashboard's template variables, resolved as Grafana's frontend does.

Resolution follows the dashboard's `templating.list` in order (a variable may use the ones before it):
constant (its query), textbox and custom (their `current`, else the first option), interval (`current`;
"auto" from the range), datasource (`current`), query variables by running their SQL (`current` when still
an option, else the first, as Grafana picks after a refresh), ad hoc filters (their `filters`). The tenant
variable is the tenant being timed.

Substitution (templateSrv.replace, the built-ins, the refusal of quotes and backslashes) is substitution.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from billing_readiness.checks.dashboard_latency.macros import AdHocFilter
from billing_readiness.checks.dashboard_latency.substitution import ALL, Value, VariableError, interpolate, selects_all
from billing_readiness.checks.dashboard_latency.timerange import TimeRange, calculate_interval

UTC = dt.timezone.utc


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


# ---- substitution --------------------------------------------------------------------------------------
