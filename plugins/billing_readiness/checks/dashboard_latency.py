"""Check 3, dashboard performance: does the largest tenant's dashboard load in under the threshold?

The panels are the user's own (a Grafana export file, Grafana's API, or config;
default: the four panels of the M12.1 tenant dashboard). The tenant is bound as
a query parameter, never pasted into SQL. A load runs all panels concurrently,
as Grafana does, and lasts until the last panel returns; the check passes when
the p95 load time over the repetitions is under the threshold. A panel reading
the raw events table is flagged: that is what makes large tenants' dashboards slow.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from billing_readiness.checks import CHECKS
from billing_readiness.results import FAIL, INFO, WARN, CheckResult
from billing_readiness.sql import Query
from billing_readiness.timewindow import Window, epoch

CHECK_ID = "dashboard_latency"

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


class DashboardError(ValueError):
    """The dashboard definition cannot be used; the message names the panel or file."""


@dataclass(frozen=True)
class Panel:
    title: str
    sql: str  # as Grafana holds it, with $tenant and macros


def panels_from_export(export: dict | str, source: str = "dashboard export") -> list[Panel]:
    """SQL panels of a Grafana dashboard JSON (the Export file, or the API's {"dashboard": ...})."""
    data = json.loads(export) if isinstance(export, str) else export
    if isinstance(data, dict) and "dashboard" in data and "panels" not in data:
        data = data["dashboard"]
    if not isinstance(data, dict) or not isinstance(data.get("panels"), list):
        raise DashboardError(f"{source}: not a Grafana dashboard (no 'panels' list)")
    panels: list[Panel] = []

    def walk(items):
        for p in items:
            if p.get("type") == "row":
                walk(p.get("panels", []))
                continue
            targets = [
                t for t in (p.get("targets") or [])
                if not t.get("hide") and isinstance(t.get("rawSql") or t.get("query"), str)
                and (t.get("rawSql") or t.get("query")).strip()
            ]
            for i, target in enumerate(targets):
                title = p.get("title") or f"panel {p.get('id', '?')}"
                suffix = f" [{target.get('refId', i)}]" if len(targets) > 1 else ""
                panels.append(Panel(title + suffix, (target.get("rawSql") or target.get("query")).strip()))

    walk(data["panels"])
    if not panels:
        raise DashboardError(f"{source}: no panel has a SQL target (targets[].rawSql or .query)")
    return panels


_RELATIVE = re.compile(r"^now-(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def time_range_seconds(export: dict | str | None, default: int = 24 * 3600) -> int:
    """The dashboard's relative time range ("time": {"from": "now-24h"}), in seconds, for $__timeFilter."""
    data = json.loads(export) if isinstance(export, str) else (export or {})
    data = data.get("dashboard", data) if isinstance(data, dict) else {}
    m = _RELATIVE.match(str((data.get("time") or {}).get("from", "")))
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)] if m else default


def panels_from_config(items: list[dict] | None) -> list[Panel]:
    return [Panel(p["title"], p["sql"]) for p in (items if items is not None else DEFAULT_PANELS)]


_MACRO_TIME_FILTER = re.compile(r"\$__timeFilter\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)")
_LEFTOVER = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*|\[\[[A-Za-z_]")


def bind(panel: Panel, variable: str, tenant: str, time_from: int, time_to: int) -> Query:
    """The panel's SQL with $tenant as a parameter and Grafana's time macros expanded."""
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
    )


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def stats(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": round(percentile(samples, 50), 4),
        "p95": round(percentile(samples, 95), 4),
        "max": round(max(samples), 4),
        "mean": round(sum(samples) / len(samples), 4),
    }


def evaluate(
    measurements: list[dict[str, Any]],
    threshold_s: float,
    raw_table: str,
    panels: list[Panel],
) -> CheckResult:
    """`measurements`: per tenant {"tenant", "events", "loads": [{"load_s", "panels": [panel runs]}]},
    a panel run being {"title", "elapsed_s", "rows_read", "bytes_read", "result_rows", "error"}."""
    title, impact = CHECKS[CHECK_ID]
    result = CheckResult(CHECK_ID, title)
    result.details["impact"] = impact
    result.metrics["threshold_s"] = threshold_s
    if not panels:
        result.add(FAIL, "no_panels", "The dashboard has no SQL panels: nothing to time.")
        return result
    if not measurements:
        result.add(FAIL, "no_tenants", "No tenant has events in the lookback window: no dashboard to load.")
        return result
    for p in panels:
        if reads_raw_table(p.sql, raw_table):
            result.add(
                WARN,
                "panel_reads_raw_table",
                f"Panel '{p.title}' reads the raw {raw_table} table, not a rollup: its load time grows with the "
                "tenant's event count (the classic slow dashboard for the largest tenant).",
                panel=p.title,
                sql=p.sql,
            )
    per_tenant = []
    for m in measurements:
        tenant, loads = m["tenant"], m["loads"]
        errors = {}
        for load in loads:
            for run in load["panels"]:
                if run.get("error") and run["title"] not in errors:
                    errors[run["title"]] = run["error"]
        for panel_title, error in errors.items():
            sql = next((p.sql for p in panels if p.title == panel_title), "?")
            result.add(
                FAIL,
                "panel_error",
                f"Panel '{panel_title}' fails for tenant '{tenant}': {error}. SQL: {sql}",
                tenant=tenant,
                panel=panel_title,
                sql=sql,
                error=error,
            )
        load_stats = stats([x["load_s"] for x in loads])
        panel_stats = []
        for p in panels:
            runs = [r for load in loads for r in load["panels"] if r["title"] == p.title and not r.get("error")]
            if not runs:
                continue
            last = runs[-1]
            panel_stats.append(
                {
                    "title": p.title,
                    **stats([r["elapsed_s"] for r in runs]),
                    "rows_read": last.get("rows_read"),
                    "bytes_read": last.get("bytes_read"),
                    "result_rows": last.get("result_rows"),
                    "reads_raw_table": reads_raw_table(p.sql, raw_table),
                    "samples": [round(r["elapsed_s"], 4) for r in runs],
                }
            )
        per_tenant.append(
            {"tenant": tenant, "events": m.get("events"), "load": load_stats,
             "load_samples": [round(x["load_s"], 4) for x in loads], "panels": panel_stats}
        )
        if not errors and load_stats["p95"] >= threshold_s:
            slowest = max(panel_stats, key=lambda s: s["p95"]) if panel_stats else None
            blame = (
                f"; slowest panel '{slowest['title']}' p95 {slowest['p95']:.3f}s, "
                f"{slowest['rows_read'] or 0:,} rows read" if slowest else ""
            )
            result.add(
                FAIL,
                "dashboard_too_slow",
                f"Dashboard for tenant '{tenant}' ({m.get('events') or 0:,} events) loads in p95 "
                f"{load_stats['p95']:.3f}s over {load_stats['n']} loads, threshold {threshold_s:.3f}s{blame}.",
                tenant=tenant,
                expected=f"p95 < {threshold_s}s",
                found=f"p95 {load_stats['p95']}s",
            )
    result.details["tenants"] = per_tenant
    result.metrics["p95_load_s"] = max(t["load"]["p95"] for t in per_tenant)
    result.metrics["tenants_timed"] = len(per_tenant)
    result.metrics["panels"] = len(panels)
    if result.passed:
        worst = max(per_tenant, key=lambda t: t["load"]["p95"])
        result.add(
            INFO, "ok",
            f"Largest tenant '{worst['tenant']}' dashboard: p95 {worst['load']['p95']:.3f}s < {threshold_s:.3f}s.",
        )
    return result
