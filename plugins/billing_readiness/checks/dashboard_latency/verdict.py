"""Check 3's verdict: per tenant, the dashboard's load times (all panels at once) against the threshold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from billing_readiness.checks.dashboard_latency.panels import Panel, reads_raw_table
from billing_readiness.core.results import FAIL, INFO, WARN, CheckResult


@dataclass
class Stats:
    n: int
    p50: float
    p95: float
    max: float
    mean: float


@dataclass
class PanelTiming:
    title: str
    stats: Stats
    rows_read: int | None
    bytes_read: int | None
    result_rows: int | None
    reads_raw_table: bool
    samples: list[float] = field(default_factory=list)


@dataclass
class TenantTiming:
    tenant: str
    events: int
    load: Stats
    load_samples: list[float] = field(default_factory=list)
    panels: list[PanelTiming] = field(default_factory=list)


@dataclass
class Details:
    threshold_s: float
    panel_source: str = ""
    tenants: list[TenantTiming] = field(default_factory=list)
    mode: str = "direct"  # "grafana" (through Grafana's /api/ds/query) or "direct" (the SQL on ClickHouse)
    measures: str = ""  # what the time includes and what it does not, in this mode
    time_range: str = ""  # the dashboard's range as it was resolved
    skipped: list[dict] = field(default_factory=list)  # {"panel", "reason"}: queries this mode cannot time


def stats(samples: list[float]) -> Stats:
    """p50 and p95 by nearest rank (quantile.py): with 5 repetitions the p95 is the slowest load."""
    from billing_readiness.core.quantile import quantile

    return Stats(
        len(samples),
        round(quantile(samples, 0.50, "nearest_rank"), 4),
        round(quantile(samples, 0.95, "nearest_rank"), 4),
        round(max(samples), 4),
        round(sum(samples) / len(samples), 4),
    )


def evaluate(
    result: CheckResult,
    measurements: list[dict[str, Any]],
    threshold_s: float,
    raw_table: str,
    panels: list[Panel],
    panel_source: str = "",
    *,
    mode: str = "direct",
    measures: str = "",
    time_range: str = "",
    skipped: list[dict] | None = None,
) -> CheckResult:
    """`measurements`: per tenant {"tenant", "events", "loads": [{"load_s", "panels": [panel runs]}]},
    a panel run being {"title", "elapsed_s", "rows_read", "bytes_read", "result_rows", "error"}.
    `skipped`: queries this mode cannot time ({"panel", "reason"}), each said in the report."""
    result.details = details = Details(
        threshold_s, panel_source, mode=mode, measures=measures, time_range=time_range, skipped=list(skipped or [])
    )
    result.metrics.update(threshold_s=threshold_s, mode=mode, time_range=time_range, panels_skipped=len(skipped or []))
    for s in details.skipped:
        result.add(INFO, "panel_not_timed", f"Panel '{s['panel']}' not timed: {s['reason']}.", panel=s["panel"])
    if not panels:
        result.add(
            FAIL,
            "no_panels",
            "The dashboard has no panel this mode can time: nothing to time."
            + (
                " Run check 3 through Grafana (config dashboard.mode) to time the other data sources."
                if details.skipped and mode == "direct"
                else ""
            ),
        )
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
    for m in measurements:
        details.tenants.append(_tenant(result, m, panels, threshold_s, raw_table))
    result.metrics.update(
        p95_load_s=max(t.load.p95 for t in details.tenants), tenants_timed=len(details.tenants), panels=len(panels)
    )
    if result.passed:
        worst = max(details.tenants, key=lambda t: t.load.p95)
        result.add(
            INFO, "ok", f"Largest tenant '{worst.tenant}' dashboard: p95 {worst.load.p95:.3f}s < {threshold_s:.3f}s."
        )
    return result


def _tenant(result: CheckResult, m: dict, panels: list[Panel], threshold_s: float, raw_table: str) -> TenantTiming:
    tenant, loads = m["tenant"], m["loads"]
    errors: dict[str, str] = {}
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
    timing = TenantTiming(
        tenant, int(m.get("events") or 0), stats([x["load_s"] for x in loads]), [round(x["load_s"], 4) for x in loads]
    )
    for p in panels:
        runs = [r for load in loads for r in load["panels"] if r["title"] == p.title and not r.get("error")]
        if runs:
            last = runs[-1]
            timing.panels.append(
                PanelTiming(
                    p.title,
                    stats([r["elapsed_s"] for r in runs]),
                    last.get("rows_read"),
                    last.get("bytes_read"),
                    last.get("result_rows"),
                    reads_raw_table(p.sql, raw_table),
                    [round(r["elapsed_s"], 4) for r in runs],
                )
            )
    if not errors and timing.load.p95 >= threshold_s:
        slowest = max(timing.panels, key=lambda s: s.stats.p95) if timing.panels else None
        blame = (
            f"; slowest panel '{slowest.title}' p95 {slowest.stats.p95:.3f}s"
            + (f", {slowest.rows_read:,} rows read" if slowest.rows_read is not None else "")
            if slowest
            else ""
        )
        result.add(
            FAIL,
            "dashboard_too_slow",
            f"Dashboard for tenant '{tenant}' ({timing.events:,} events) loads in p95 "
            f"{timing.load.p95:.3f}s over {timing.load.n} loads, threshold {threshold_s:.3f}s{blame}.",
            tenant=tenant,
            expected=f"p95 < {threshold_s}s",
            found=f"p95 {timing.load.p95}s",
        )
    return timing
