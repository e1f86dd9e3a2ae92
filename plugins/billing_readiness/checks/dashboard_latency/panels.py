"""Check 3's dashboard: the panels (Grafana export, Grafana API or config) bound to one tenant as queries.

The tenant is bound as a query parameter, never pasted into SQL; Grafana's time
macros take the dashboard's time range; any other variable is a clear error.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from billing_readiness.errors import CheckError
from billing_readiness.sql import Query
from billing_readiness.timewindow import Window, epoch

# The M12.1 tenant usage dashboard, as Grafana's ClickHouse data source holds it.
DEFAULT_PANELS = [
    {
        "title": "Queries per hour (last 24 h)",
        "sql": "SELECT hour, total_quantity FROM usage_hourly WHERE tenant_id = '$tenant' AND event_type = 'query' "
        "AND hour >= now() - INTERVAL 24 HOUR ORDER BY hour",
    },
    {
        "title": "Token usage by type (today)",
        "sql": "SELECT event_type, sum(total_quantity) FROM usage_hourly WHERE tenant_id = '$tenant' "
        "AND event_type IN ('token_input', 'token_output') AND hour >= today() GROUP BY event_type",
    },
    {
        "title": "Cost today",
        "sql": "SELECT sum(total_cost_usd) FROM usage_daily WHERE tenant_id = '$tenant' AND day = today()",
    },
    {
        "title": "Quota usage %",
        "sql": "SELECT (quota_used / quota_limit) * 100 FROM tenant_quotas WHERE tenant_id = '$tenant' "
        "AND quota_type = 'queries_per_day'",
    },
]


class DashboardError(CheckError):
    """The dashboard definition cannot be used; the message names the panel or file."""


@dataclass(frozen=True)
class Panel:
    title: str
    sql: str  # as Grafana holds it, with $tenant and macros


def panels_from_export(export: dict | str, source: str = "dashboard export") -> list[Panel]:
    """SQL panels of a Grafana dashboard JSON (the Export file, or the API's {"dashboard": ...})."""
    if isinstance(export, str):
        try:
            data = json.loads(export)
        except ValueError:
            raise DashboardError(f"{source}: not JSON (got {export[:60]!r}...): is it Grafana's API, or a login "
                                 "page or proxy answering in its place?") from None
    else:
        data = export
    if isinstance(data, dict) and "dashboard" in data and "panels" not in data:
        data = data["dashboard"]
    if not isinstance(data, dict) or not isinstance(data.get("panels"), list):
        raise DashboardError(f"{source}: not a Grafana dashboard (no 'panels' list)")
    panels: list[Panel] = []

    def walk(items, where):
        for n, p in enumerate(items):
            if not isinstance(p, dict):
                raise DashboardError(f"{source}: {where}[{n}] is {p!r}, not a panel object")
            if p.get("type") == "row":
                walk(p.get("panels") or [], f"{where}[{n}].panels")
                continue
            targets = [
                t for t in (p.get("targets") or [])
                if isinstance(t, dict) and not t.get("hide") and isinstance(t.get("rawSql") or t.get("query"), str)
                and (t.get("rawSql") or t.get("query")).strip()
            ]
            for i, target in enumerate(targets):
                title = str(p.get("title") or f"panel {p.get('id', '?')}")
                suffix = f" [{target.get('refId', i)}]" if len(targets) > 1 else ""
                panels.append(Panel(title + suffix, (target.get("rawSql") or target.get("query")).strip()))

    walk(data["panels"], "panels")
    if not panels:
        raise DashboardError(f"{source}: no panel has a SQL target (targets[].rawSql or .query)")
    return panels


_RELATIVE = re.compile(r"^now-(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def time_range_seconds(export: dict | str | None, default: int = 24 * 3600) -> int:
    """The dashboard's relative time range ("time": {"from": "now-24h"}), in seconds, for $__timeFilter."""
    data = json.loads(export) if isinstance(export, str) else (export or {})
    data = data.get("dashboard", data) if isinstance(data, dict) else {}
    m = _RELATIVE.fullmatch(str((data.get("time") or {}).get("from", "")))
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)] if m else default


def panels_from_config(items: list[dict] | None) -> list[Panel]:
    return [Panel(p["title"], p["sql"]) for p in (items if items is not None else DEFAULT_PANELS)]


_MACRO_TIME_FILTER = re.compile(r"\$__timeFilter\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)")
_LEFTOVER = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*|\[\[[A-Za-z_]")


def single_select_problem(sql: str) -> str | None:
    """Why a panel's SQL may not run (not one SELECT, a table function, a SETTINGS clause: sql_guard), or None."""
    from billing_readiness.sql_guard import problem

    return problem(sql)


def bind(panel: Panel, variable: str, tenant: str, time_from: int, time_to: int) -> Query:
    """The panel's SQL with $tenant as a parameter and Grafana's time macros expanded."""
    problem = single_select_problem(panel.sql)
    if problem:
        raise DashboardError(f"panel '{panel.title}' {problem}: the check only runs read queries. SQL: {panel.sql}")
    sql = panel.sql.replace("%", "%%")
    v = re.escape(variable)
    forms = [rf"'\$\{{{v}(:[a-z]+)?\}}'", rf"'\${v}\b'", rf"'\[\[{v}\]\]'", rf"\$\{{{v}(:[a-z]+)?\}}", rf"\${v}\b",
             rf"\[\[{v}\]\]"]
    for form in forms:
        sql = re.sub(form, "%(tenant)s", sql)
    sql = _MACRO_TIME_FILTER.sub(r"\1 >= toDateTime(%(time_from)s) AND \1 <= toDateTime(%(time_to)s)", sql)
    sql = sql.replace("$__fromTime", "toDateTime(%(time_from)s)").replace("$__toTime", "toDateTime(%(time_to)s)")
    sql = sql.replace("$__timeFrom()", "toDateTime(%(time_from)s)").replace("$__timeTo()", "toDateTime(%(time_to)s)")
    left = _LEFTOVER.search(sql)
    if left:
        raise DashboardError(
            f"panel '{panel.title}': unsupported Grafana variable or macro {left.group(0)!r} "
            f"(supported: ${variable}, $__timeFilter(col), $__fromTime, $__toTime)"
        )
    return Query(panel.title, sql, {"tenant": tenant, "time_from": time_from, "time_to": time_to})


def reads_raw_table(sql: str, raw_table: str) -> bool:
    name = raw_table.split(".")[-1]
    return re.search(rf"\b(FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*\.)?`?{re.escape(name)}`?\b", sql, re.I) is not None


def top_tenants_query(cfg: dict, window: Window, k: int) -> Query:
    """The K tenants with the most events in the lookback window, from the hourly rollup."""
    hr = cfg["usage_hourly"]
    return Query(
        "largest tenants by events (usage_hourly)",
        f"""SELECT {hr['tenant_id']} AS t, sum({hr['event_count']}) AS events
FROM {hr['table']}
WHERE {hr['hour']} >= toDateTime(%(start)s)
GROUP BY t
ORDER BY events DESC, t
LIMIT %(k)s""",
        {"start": epoch(window.start), "k": int(k)},
        columns=("t", "events"),
    )
