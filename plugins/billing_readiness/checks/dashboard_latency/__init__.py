"""Check 3, dashboard performance: does the largest tenant's dashboard load in under the threshold?

The panels are the user's own (Grafana's API, a Grafana export file, or config;
default: the four panels of the M12.1 tenant dashboard). A load runs all panels
concurrently, as Grafana does, and lasts until the last panel returns; the check
passes when the p95 load time over the repetitions is under the threshold. A
panel reading the raw events table is flagged. With a Grafana connection the
panels run through Grafana's query API ("grafana" mode); otherwise their SQL is
expanded as the ClickHouse plugin would and run directly ("direct" mode).

    panels.py     the dashboard's panels       timerange.py  its time range and interval, as Grafana computes them
    variables.py  its template variables       macros.py     the ClickHouse plugin's macros
    queries.py    a load's queries (direct SQL or Grafana's /api/ds/query bodies)
    load.py       running a load, either way   verdict.py    the decision     render.py  its part of the report

Which mode ran, and what its time includes, is in the report and the `mode` metric.
"""

from __future__ import annotations

import json
from pathlib import Path

from billing_readiness.checks.contract import Check, RunContext, Services
from billing_readiness.checks.dashboard_latency.settings import Dashboard
from billing_readiness.core.errors import CheckError, ServiceUnavailable
from billing_readiness.core.params import LOOKBACK_DAYS, ParamSpec

MODES = {
    "grafana": "through Grafana: each panel's queries in one POST /api/ds/query with the panel's data source, "
    "all panels at once, as the browser loads the dashboard; the time is Grafana's round trip (the "
    "plugin's own client, user, protocol and queryTimeout, and Grafana's data-frame conversion); not in "
    "it: the browser's rendering",
    "direct": "direct: each panel's SQL expanded as the Grafana ClickHouse plugin would (variables, macros, time "
    "range) and run on the DAG's ClickHouse connection, all panels at once; not in the time: Grafana's "
    "own overhead (its HTTP API, the plugin's client and data-frame conversion) and the browser's "
    "rendering",
}


def choose_mode(cfg: dict) -> str:
    """ "grafana" or "direct", from config dashboard.mode ("auto": Grafana when there is a Grafana dashboard)."""
    d, conn_id = cfg["dashboard"], cfg["connections"]["grafana"]
    live = bool(conn_id and d["grafana_uid"])
    if d["mode"] == "grafana" and not live:
        raise CheckError(
            "config dashboard.mode is 'grafana' but "
            + (
                "connections.grafana is not set (the Airflow HTTP connection to Grafana)"
                if not conn_id
                else "dashboard.grafana_uid is not set (the dashboard's uid in Grafana)"
            )
        )
    return "grafana" if d["mode"] == "grafana" or (d["mode"] == "auto" and live) else "direct"


def load_dashboard(services: Services, cfg: dict):
    """The dashboard, and where it came from.

    Precedence: Grafana's API (connections.grafana + dashboard.grafana_uid), then an export file
    (dashboard.export_file), then dashboard.panels, then the M12.1 default panels."""
    from billing_readiness.checks.dashboard_latency.panels import dashboard_from_config, dashboard_from_export

    d = cfg["dashboard"]
    conn_id = cfg["connections"]["grafana"]
    if conn_id and d["grafana_uid"]:
        http = services.http(conn_id, 15, "reading the dashboard from Grafana")
        resp = http.request("GET", f"/api/dashboards/uid/{d['grafana_uid']}")
        if resp["status"] is None:
            raise ServiceUnavailable(f"Grafana (connection '{conn_id}') unreachable: {resp['error']}")
        if resp["status"] != 200:
            raise CheckError(
                f"Grafana (connection '{conn_id}') answered HTTP {resp['status']} for dashboard uid "
                f"'{d['grafana_uid']}' (config key 'dashboard.grafana_uid')"
            )
        source = f"Grafana dashboard uid '{d['grafana_uid']}' (connection '{conn_id}')"
        if not isinstance(resp["body"], dict):
            raise CheckError(
                f"{source} answered HTTP 200 with {str(resp['body'])[:60]!r}..., not a dashboard's "
                "JSON: check the connection's host (Grafana's URL, not a login page or proxy) and "
                "config key 'dashboard.grafana_uid'"
            )
        return dashboard_from_export(resp["body"], source)
    if d["export_file"]:
        path = Path(d["export_file"])
        if not path.is_file():
            raise CheckError(
                f"config key 'dashboard.export_file': no such file {path} "
                "(export it from Grafana: Share > Export > Save to file)"
            )
        try:
            export = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckError(
                f"config key 'dashboard.export_file': {path} is not a JSON dashboard export: {exc}"
            ) from None
        return dashboard_from_export(export, f"export file {path}")
    source = "config 'dashboard.panels'" if d["panels"] is not None else "M12.1 default panels"
    return dashboard_from_config(d["panels"], source)


class DashboardLatency(Check):
    """Check 3, dashboard performance. Times the largest tenant's dashboard panels, run
    concurrently. Failure means customers cannot verify invoices and payments are delayed."""

    id = "dashboard_latency"
    title = "Check 3: Dashboard performance"
    impact = "Customers cannot verify invoices; payments are delayed."
    config_sections = {"dashboard": Dashboard}
    asks = "the largest tenant's dashboard loads in under the threshold (p95, panels concurrently)"
    figure = ("dashboard load, slowest tenant (s)", "metric:p95_load_s")
    key_metrics = ("p95_load_s", "tenants_timed")
    params = {
        "lookback_days": LOOKBACK_DAYS,
        "latency_threshold_s": ParamSpec(
            1.0,
            "number",
            "Dashboard load threshold (seconds)",
            "The largest tenant's dashboard must load (p95, all panels concurrently) in less than this.",
            loosens="higher",
            schema={"exclusiveMinimum": 0, "maximum": 60},
        ),
        "repetitions": ParamSpec(
            5,
            "integer",
            "Dashboard loads to time",
            "Timed loads after one warm-up; p95 is taken over these.",
            loosens="lower",
            schema={"minimum": 1, "maximum": 100},
        ),
        "top_k_tenants": ParamSpec(
            1,
            "integer",
            "Largest tenants to time",
            "How many of the largest tenants (most events in the lookback window) get their dashboard timed.",
            schema={"minimum": 1, "maximum": 20},
        ),
    }
    runs_last = True  # checks 1 and 2 scan a month of events: timing the dashboard meanwhile measures us

    def run(self, services: Services, ctx: RunContext):
        from billing_readiness.checks.dashboard_latency.load import DirectLoad, GrafanaLoad
        from billing_readiness.checks.dashboard_latency.panels import DashboardError, top_tenants_query
        from billing_readiness.checks.dashboard_latency.timerange import TimeRangeError, dashboard_range
        from billing_readiness.checks.dashboard_latency.verdict import evaluate

        params, cfg = ctx.params, ctx.cfg
        mode = choose_mode(cfg)
        dashboard = load_dashboard(services, cfg)
        if not dashboard.panels:
            raise CheckError(
                f"{dashboard.source}: the dashboard has no panels (config key 'dashboard.panels' is empty)"
            )
        clickhouse = services.clickhouse(cfg)
        window = ctx.window(params["lookback_days"])  # the largest tenants as of the run's anchor
        top = clickhouse.run(top_tenants_query(cfg, window, int(params["top_k_tenants"])))
        try:  # the dashboard as a customer opens it: its saved range, at the wall clock
            time_range = dashboard_range(dashboard.json, ctx.clock or ctx.now, cfg["dashboard"]["browser_timezone"])
        except TimeRangeError as exc:
            raise CheckError(f"{dashboard.source}: {exc}") from None
        if mode == "grafana":
            conn_id = cfg["connections"]["grafana"]
            http = services.http(conn_id, cfg["clickhouse"]["query_timeout_seconds"], "timing the dashboard in Grafana")
            runner: GrafanaLoad | DirectLoad = GrafanaLoad(http, conn_id, dashboard, cfg)
        else:
            runner = DirectLoad(clickhouse, dashboard, cfg)
        measurements, units, skipped = [], [], []
        for row in top:
            try:
                load = runner.prepare(row["t"], time_range)
            except (DashboardError, TimeRangeError) as exc:
                raise CheckError(f"{dashboard.source}: {exc}") from None
            units, skipped = load.units, load.skipped
            measurements.append(
                {
                    "tenant": row["t"],
                    "events": int(row["events"]),
                    "loads": runner.time(load, repetitions=int(params["repetitions"])),
                }
            )
        result = evaluate(
            self.new_result(),
            measurements,
            float(params["latency_threshold_s"]),
            cfg["usage_events"]["table"],
            units,
            dashboard.source,
            mode=mode,
            measures=MODES[mode],
            time_range=time_range.describe(),
            skipped=skipped,
        )
        result.metrics["panel_source"] = dashboard.source
        result.metrics["clickhouse_queries"] = clickhouse.queries_sent
        if mode == "grafana":
            result.metrics["grafana_requests"] = getattr(runner, "requests_sent", 0)
        return result

    def parts(self):
        from billing_readiness.checks.dashboard_latency import render, verdict

        return verdict.Details, render


CHECK = DashboardLatency()
