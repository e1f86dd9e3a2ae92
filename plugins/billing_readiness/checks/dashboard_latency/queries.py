"""A dashboard load's queries: as ClickHouse runs them (direct mode) or as the browser sends them to Grafana.

Direct mode does what the browser and the plugin's backend would do (variables, $__conditionalAll, ad hoc
filters, then the time macros) and runs the result on the DAG's ClickHouse connection. Grafana mode does the
browser's half and sends each panel's queries in one `POST /api/ds/query` (Grafana's documented body:
`queries[]` with refId, datasource {type, uid}, intervalMs, maxDataPoints and the target's fields; `from`
and `to` in epoch ms), so the plugin, its client and Grafana's data-frame conversion are all in the time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from billing_readiness.checks.dashboard_latency.macros import (
    BACKEND,
    FRONTEND,
    MacroContext,
    MacroError,
    apply_adhoc,
    apply_conditional_all,
    expand_backend,
)
from billing_readiness.checks.dashboard_latency.panels import DashboardError, Panel, single_select_problem
from billing_readiness.checks.dashboard_latency.substitution import (
    Value,
    VariableError,
    builtins,
    interpolate,
    leftover,
    selects_all,
)
from billing_readiness.checks.dashboard_latency.timerange import TimeRange, TimeRangeError, calculate_interval
from billing_readiness.core.sql import Query

UTC = dt.timezone.utc


@dataclass(frozen=True)
class LoadContext:
    """One load of the dashboard: its range, its variables' values, and the screen it is drawn on."""

    time_range: TimeRange
    values: dict[str, Value]
    dashboard: dict
    screen_width_px: int = 1920

    def interval(self, panel: Panel):
        """The panel's query interval, as Grafana derives it from the range and the panel's width."""
        points = panel.max_data_points or max(1, round(panel.width / 24 * self.screen_width_px))
        minimum = interpolate(panel.min_interval, self.values, self.time_range) if panel.min_interval else None
        return int(points), calculate_interval(self.time_range, int(points), minimum)

    def adhoc_filters(self, panel: Panel):
        return [
            f
            for v in self.values.values()
            if v.type == "adhoc" and v.datasource_type in (None, panel.datasource_type)
            for f in v.filters
        ]


def _variables_in(panel: Panel, ctx: LoadContext) -> str:
    """The panel's query with $__conditionalAll and the variables applied, as templateSrv leaves it."""
    _, interval = ctx.interval(panel)
    sql = apply_conditional_all(panel.sql, lambda v: v in ctx.values and selects_all(ctx.values[v]))
    sql = interpolate(
        sql, ctx.values, ctx.time_range, builtins(ctx.time_range, interval.ms, interval.text, ctx.dashboard)
    )
    left = leftover(sql, (*BACKEND, *FRONTEND))
    if left:
        raise DashboardError(
            f"panel '{panel.title}': {left!r} is no variable of the dashboard (nor one of "
            "Grafana's built-ins or the plugin's macros): add it to the dashboard's variables"
        )
    return sql


def _named(panel: Panel, step):
    try:
        return step()
    except (MacroError, VariableError, TimeRangeError) as exc:
        raise DashboardError(f"panel '{panel.title}': {exc}") from None


def frontend_sql(panel: Panel, ctx: LoadContext) -> str:
    """What the browser sends for the panel's query: $__conditionalAll, variables and ad hoc filters applied;
    the backend's macros left for the plugin."""
    sql = _named(panel, lambda: _variables_in(panel, ctx))
    return _named(panel, lambda: apply_adhoc(sql, ctx.adhoc_filters(panel))) if panel.is_clickhouse else sql


def direct_query(panel: Panel, ctx: LoadContext) -> Query:
    """The panel's query as ClickHouse receives it from the plugin (every macro expanded), checked to be one
    read (sql_guard) before and after the variables are in."""
    problem = single_select_problem(panel.sql)
    if problem:
        raise DashboardError(f"panel '{panel.title}' {problem}: the check only runs read queries. SQL: {panel.sql}")
    sql = _named(panel, lambda: _variables_in(panel, ctx))
    problem = single_select_problem(sql)
    if problem:
        raise DashboardError(
            f"panel '{panel.title}' {problem} once its variables are in: the check only runs read queries. SQL: {sql}"
        )
    _, interval = ctx.interval(panel)
    sql = _named(panel, lambda: apply_adhoc(sql, ctx.adhoc_filters(panel)))
    expanded = _named(
        panel, lambda: expand_backend(sql, MacroContext(ctx.time_range.from_ms, ctx.time_range.to_ms, interval.ms))
    )
    return Query(panel.title, expanded)


def bind(panel: Panel, variable: str, tenant: str, time_from: int, time_to: int) -> Query:
    """`direct_query` for a dashboard with one variable, the tenant, over [time_from, time_to] (epoch s)."""
    rng = TimeRange(time_from * 1000, time_to * 1000, str(time_from), str(time_to), "UTC")
    return direct_query(panel, LoadContext(rng, {variable: Value(variable, "query", [tenant])}, {}))


def grafana_request(panels: list[Panel], ctx: LoadContext) -> dict:
    """The `POST /api/ds/query` body for one panel's queries, as the browser sends it."""
    queries = []
    for p in panels:
        points, interval = ctx.interval(p)
        saved = p.saved_target()
        fields = {
            k: (frontend_sql(p, ctx) if k in ("expr", "query") and isinstance(v, str) and not p.is_clickhouse else v)
            for k, v in saved.items()
        }
        query = {
            **fields,
            "refId": p.ref_id,
            "datasource": {"type": p.datasource_type, "uid": p.datasource_uid},
            "intervalMs": interval.ms,
            "maxDataPoints": points,
        }
        if p.is_clickhouse:
            query["rawSql"] = frontend_sql(p, ctx)
            query.setdefault("format", 1)
            query["meta"] = {**(saved.get("meta") or {}), "timezone": ctx.time_range.timezone}
        queries.append(query)
    return {"queries": queries, "from": str(ctx.time_range.from_ms), "to": str(ctx.time_range.to_ms)}


def frame_rows(result: dict) -> int:
    """Rows in a query's data frames (the length of each frame's first field)."""
    rows = 0
    for frame in result.get("frames") or []:
        values = ((frame or {}).get("data") or {}).get("values") or []
        rows += len(values[0]) if values and isinstance(values[0], list) else 0
    return rows


def grafana_error(response: dict, ref_ids: list[str]) -> str | None:
    """Grafana's error for the request, or for the first query that has one; None when every query answered."""
    status, body = response.get("status"), response.get("body")
    results = body.get("results") if isinstance(body, dict) else None
    if isinstance(results, dict):
        for ref in ref_ids:
            r = results.get(ref)
            if not isinstance(r, dict):
                return f"Grafana's answer (HTTP {status}) has no result for query {ref}"
            if r.get("error"):
                return f"Grafana: {str(r['error'])[:300]}"
        return None if status in (200, 207) else f"Grafana answered HTTP {status}"
    message = body.get("message") if isinstance(body, dict) else str(body)[:200]
    return f"Grafana answered HTTP {status}: {message}"


def rows_of(response: dict, ref_ids: list[str]) -> int:
    results = (response.get("body") or {}).get("results") or {}
    return sum(frame_rows(results.get(ref) or {}) for ref in ref_ids)


def values_of(response: dict, ref_id: str) -> list[list]:
    """A query's rows (first frame), for a query variable's options."""
    result = ((response.get("body") or {}).get("results") or {}).get(ref_id) or {}
    frames = result.get("frames") or []
    if not frames:
        return []
    columns = ((frames[0] or {}).get("data") or {}).get("values") or []
    return [list(row) for row in zip(*columns)] if columns else []
