"""Loading the dashboard for one tenant, in either mode: resolve its variables, build its queries, time them.

Both hand the verdict the same shape: per load {"load_s", "panels": [{"title", "elapsed_s", "rows_read",
"bytes_read", "result_rows", "error"}]}. Grafana does not report rows and bytes read; those are None there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from billing_readiness.checks.dashboard_latency.panels import CLICKHOUSE, Dashboard, DashboardError, Panel
from billing_readiness.checks.dashboard_latency.queries import (
    LoadContext,
    direct_query,
    grafana_error,
    grafana_request,
    rows_of,
    values_of,
)
from billing_readiness.checks.dashboard_latency.timerange import TimeRange, calculate_interval
from billing_readiness.checks.dashboard_latency.variables import resolve
from billing_readiness.core.errors import CheckError, ServiceUnavailable
from billing_readiness.core.sql import Query

QUERY_API = "/api/ds/query"


@dataclass
class Load:
    units: list[Panel]  # what is timed, as the verdict names it: a query (direct) or a panel (Grafana)
    work: list = field(default_factory=list)  # Queries (direct) or (title, path, body) requests (Grafana)
    skipped: list[dict] = field(default_factory=list)  # {"panel", "reason"}


class DirectLoad:
    """The panels' SQL, expanded as the plugin expands it, run on the DAG's ClickHouse connection."""

    def __init__(self, clickhouse, dashboard: Dashboard, cfg: dict):
        self.clickhouse, self.dashboard, self.cfg = clickhouse, dashboard, cfg

    def _variable_rows(self, time_range: TimeRange):
        from billing_readiness.checks.dashboard_latency.macros import MacroContext, expand_backend
        from billing_readiness.checks.dashboard_latency.panels import single_select_problem

        def run(sql: str, _datasource: dict) -> list[list]:
            problem = single_select_problem(sql)
            if problem:
                raise DashboardError(f"a query variable's SQL {problem}: the check only runs read queries. SQL: {sql}")
            ctx = MacroContext(time_range.from_ms, time_range.to_ms, calculate_interval(time_range, 1000).ms)
            rows = self.clickhouse.run(Query("dashboard variable query", expand_backend(sql, ctx)))
            return [list(r.values()) for r in rows]

        return run

    def prepare(self, tenant: str, time_range: TimeRange) -> Load:
        d = self.cfg["dashboard"]
        values = resolve(
            self.dashboard.json,
            time_range,
            tenant_variable=d["tenant_variable"],
            tenant=tenant,
            run_query=self._variable_rows(time_range),
            datasource_types=(CLICKHOUSE,),
        )
        ctx = LoadContext(time_range, values, self.dashboard.json, d["screen_width_px"])
        load = Load([])
        for panel in self.dashboard.panels:
            if not panel.is_clickhouse:
                load.skipped.append(
                    {
                        "panel": panel.title,
                        "reason": (
                            f"data source type '{panel.datasource_type or 'unknown'}' is not the ClickHouse plugin: "
                            "direct "
                            "mode cannot run it (through Grafana it is timed)"
                        ),
                    }
                )
                continue
            load.units.append(panel)
            load.work.append(direct_query(panel, ctx))
        return load

    def time(self, load: Load, repetitions: int) -> list[dict]:
        return self.clickhouse.time_loads(load.work, repetitions=repetitions) if load.work else []


class GrafanaLoad:
    """Each panel's queries in one POST /api/ds/query, all panels at once, as the browser loads the dashboard."""

    def __init__(self, http, conn_id: str, dashboard: Dashboard, cfg: dict):
        self.http, self.conn_id, self.dashboard, self.cfg = http, conn_id, dashboard, cfg
        self.requests_sent = 0

    def _refused(self, status, what: str) -> CheckError:
        return CheckError(
            f"Grafana (connection '{self.conn_id}') answered HTTP {status} to {what}: give the "
            "connection a service-account token that may query the dashboard's data sources "
            "(Viewer role)"
        )

    def _variable_rows(self, time_range: TimeRange):
        default_uid = next(
            (p.datasource_uid for p in self.dashboard.panels if p.is_clickhouse and p.datasource_uid), None
        )

        def run(sql: str, datasource: dict) -> list[list]:
            ds = {"type": datasource.get("type") or CLICKHOUSE, "uid": datasource.get("uid") or default_uid}
            body = {
                "queries": [
                    {
                        "refId": "variable",
                        "datasource": ds,
                        "rawSql": sql,
                        "format": 1,
                        "intervalMs": calculate_interval(time_range, 1000).ms,
                        "maxDataPoints": 1000,
                    }
                ],
                "from": str(time_range.from_ms),
                "to": str(time_range.to_ms),
            }
            self.requests_sent += 1
            resp = self.http.request("POST", QUERY_API, json=body)
            if resp["status"] is None:
                raise ServiceUnavailable(f"Grafana (connection '{self.conn_id}') unreachable: {resp['error']}")
            if resp["status"] in (401, 403):
                raise self._refused(resp["status"], "a query variable's query")
            error = grafana_error(resp, ["variable"])
            if error:
                raise DashboardError(f"a query variable's query failed in Grafana: {error}. SQL: {sql}")
            return values_of(resp, "variable")

        return run

    def prepare(self, tenant: str, time_range: TimeRange) -> Load:
        d = self.cfg["dashboard"]
        values = resolve(
            self.dashboard.json,
            time_range,
            tenant_variable=d["tenant_variable"],
            tenant=tenant,
            run_query=self._variable_rows(time_range),
            datasource_types=None,
        )
        ctx = LoadContext(time_range, values, self.dashboard.json, d["screen_width_px"])
        groups: dict[str, list[Panel]] = {}
        for panel in self.dashboard.panels:
            groups.setdefault(panel.group or panel.title, []).append(panel)
        load = Load([])

        def concrete(p: Panel) -> Panel | None:
            """The query with its data source's uid (a datasource variable's value), or None: skipped."""
            uid = p.datasource_uid or ""
            if uid and not uid.startswith("$"):
                return p
            var = values.get(uid.strip("${}")) if uid else None
            if var is not None and var.values:
                return replace(p, datasource_uid=var.values[0])
            load.skipped.append(
                {
                    "panel": p.title,
                    "reason": (
                        f"its data source ({uid or 'the default'}) has no uid in the dashboard: Grafana cannot be "
                        "asked to "
                        "run it"
                    ),
                }
            )
            return None

        for group, members in groups.items():
            panels = [c for c in map(concrete, members) if c is not None]
            if not panels:
                continue
            title = group.split(":", 1)[1] if ":" in group else group
            load.units.append(
                Panel(
                    title,
                    "\n;\n".join(p.sql for p in panels),
                    panels[0].datasource_type,
                    panels[0].datasource_uid,
                    ",".join(p.ref_id for p in panels),
                    group,
                )
            )
            load.work.append((title, QUERY_API, grafana_request(panels, ctx)))
        return load

    def time(self, load: Load, repetitions: int) -> list[dict]:
        if not load.work:
            return []
        self.requests_sent += len(load.work) * (repetitions + 1)
        loads = self.http.time_loads(load.work, repetitions=repetitions)
        out = []
        for one in loads:
            runs = []
            for unit, (_, _, body), answer in zip(load.units, load.work, one["answers"]):
                if answer["status"] is None:
                    raise ServiceUnavailable(
                        f"Grafana (connection '{self.conn_id}') unreachable while timing "
                        f"panel '{unit.title}': {answer['error']}"
                    )
                if answer["status"] in (401, 403):
                    raise self._refused(answer["status"], f"panel '{unit.title}'")
                refs = [q["refId"] for q in body["queries"]]
                error = grafana_error(answer, refs)
                runs.append(
                    {
                        "title": unit.title,
                        "elapsed_s": answer["elapsed_s"],
                        "rows_read": None,
                        "bytes_read": None,
                        "result_rows": None if error else rows_of(answer, refs),
                        "error": error,
                    }
                )
            out.append({"load_s": one["load_s"], "panels": runs})
        return out
