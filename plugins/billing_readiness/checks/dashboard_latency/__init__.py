"""Check 3, dashboard performance: does the largest tenant's dashboard load in under the threshold?

The panels are the user's own (Grafana's API, a Grafana export file, or config;
default: the four panels of the M12.1 tenant dashboard). A load runs all panels
concurrently, as Grafana does, and lasts until the last panel returns; the check
passes when the p95 load time over the repetitions is under the threshold. A
panel reading the raw events table is flagged.

    panels.py  the dashboard as queries     verdict.py  the decision     render.py  its part of the report
"""
from __future__ import annotations

import json
from pathlib import Path

from billing_readiness.checks.contract import Check, RunContext, Services
from billing_readiness.errors import CheckError, ServiceUnavailable
from billing_readiness.params import LOOKBACK_DAYS, ParamSpec

DAY = 24 * 3600


def dashboard_panels(services: Services, cfg: dict) -> tuple[list, str, int]:
    """The dashboard's SQL panels, where they came from, and its time range in seconds.

    Precedence: Grafana's API (connections.grafana + dashboard.grafana_uid), then an export file
    (dashboard.export_file), then dashboard.panels, then the M12.1 default panels."""
    from billing_readiness.checks.dashboard_latency.panels import panels_from_config, panels_from_export, time_range_seconds

    d = cfg["dashboard"]
    conn_id = cfg["connections"]["grafana"]
    if conn_id and d["grafana_uid"]:
        http = services.http(conn_id, 15, "reading the dashboard from Grafana")
        resp = http.request("GET", f"/api/dashboards/uid/{d['grafana_uid']}")
        if resp["status"] is None:
            raise ServiceUnavailable(f"Grafana (connection '{conn_id}') unreachable: {resp['error']}")
        if resp["status"] != 200:
            raise CheckError(f"Grafana (connection '{conn_id}') answered HTTP {resp['status']} for dashboard uid "
                             f"'{d['grafana_uid']}' (config key 'dashboard.grafana_uid')")
        source = f"Grafana dashboard uid '{d['grafana_uid']}' (connection '{conn_id}')"
        if not isinstance(resp["body"], dict):
            raise CheckError(f"{source} answered HTTP 200 with {str(resp['body'])[:60]!r}..., not a dashboard's "
                             "JSON: check the connection's host (Grafana's URL, not a login page or proxy) and "
                             "config key 'dashboard.grafana_uid'")
        return panels_from_export(resp["body"], source), source, time_range_seconds(resp["body"])
    if d["export_file"]:
        path = Path(d["export_file"])
        if not path.is_file():
            raise CheckError(f"config key 'dashboard.export_file': no such file {path} "
                             "(export it from Grafana: Share > Export > Save to file)")
        try:
            export = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckError(f"config key 'dashboard.export_file': {path} is not a JSON dashboard export: {exc}") from None
        return panels_from_export(export, str(path)), f"export file {path}", time_range_seconds(export)
    source = "config 'dashboard.panels'" if d["panels"] is not None else "M12.1 default panels"
    return panels_from_config(d["panels"]), source, DAY


class DashboardLatency(Check):
    """Check 3, dashboard performance. Times the largest tenant's dashboard panels, run
    concurrently. Failure means customers cannot verify invoices and payments are delayed."""

    id = "dashboard_latency"
    title = "Check 3: Dashboard performance"
    impact = "Customers cannot verify invoices; payments are delayed."
    params = {
        "lookback_days": LOOKBACK_DAYS,
        "latency_threshold_s": ParamSpec(
            1.0, "number", "Dashboard load threshold (seconds)",
            "The largest tenant's dashboard must load (p95, all panels concurrently) in less than this.",
            loosens="higher", schema={"exclusiveMinimum": 0, "maximum": 60}),
        "repetitions": ParamSpec(
            5, "integer", "Dashboard loads to time", "Timed loads after one warm-up; p95 is taken over these.",
            loosens="lower", schema={"minimum": 1, "maximum": 100}),
        "top_k_tenants": ParamSpec(
            1, "integer", "Largest tenants to time",
            "How many of the largest tenants (most events in the lookback window) get their dashboard timed.",
            schema={"minimum": 1, "maximum": 20}),
    }
    runs_last = True  # checks 1 and 2 scan a month of events: timing the dashboard meanwhile measures us

    def run(self, services: Services, ctx: RunContext):
        from billing_readiness.checks.dashboard_latency.panels import DashboardError, bind, top_tenants_query
        from billing_readiness.checks.dashboard_latency.verdict import evaluate
        params = ctx.params
        panels, source, range_s = dashboard_panels(services, ctx.cfg)
        if not panels:
            raise CheckError(f"{source}: the dashboard has no SQL panels (config key 'dashboard.panels' is empty)")
        clickhouse = services.clickhouse(ctx.cfg)
        window = ctx.window(params["lookback_days"])  # the largest tenants as of the run's anchor
        top = clickhouse.run(top_tenants_query(ctx.cfg, window, int(params["top_k_tenants"])))
        variable = ctx.cfg["dashboard"]["tenant_variable"]
        time_to = int((ctx.clock or ctx.now).timestamp())  # the dashboard as a customer opens it: up to now
        measurements = []
        for row in top:
            try:
                bound = [bind(p, variable, row["t"], time_to - range_s, time_to) for p in panels]
            except DashboardError as exc:
                raise CheckError(f"{source}: {exc}") from None
            loads = clickhouse.time_loads(bound, repetitions=int(params["repetitions"]))
            measurements.append({"tenant": row["t"], "events": int(row["events"]), "loads": loads})
        result = evaluate(self.new_result(), measurements, float(params["latency_threshold_s"]),
                          ctx.cfg["usage_events"]["table"], panels, source)
        result.metrics["panel_source"] = source
        result.metrics["clickhouse_queries"] = clickhouse.queries_sent
        return result

    def parts(self):
        from billing_readiness.checks.dashboard_latency import render, verdict

        return verdict.Details, render


CHECK = DashboardLatency()
