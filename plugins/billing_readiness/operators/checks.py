"""The four check operators: fetch with a hook, decide with billing_readiness.checks.*, hand over."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from billing_readiness.checks import dashboard_latency, invoice_immutability, quota_enforcement, usage_coverage
from billing_readiness.operators.base import ReadinessCheckOperator
from billing_readiness.report import run_report_dir
from billing_readiness.results import CheckResult
from billing_readiness.sql import active_tenants_query
from billing_readiness.timewindow import Month, Window, last_closed_month


def _clickhouse(cfg: dict):
    from billing_readiness.hooks.clickhouse import ClickHouseHook

    return ClickHouseHook(cfg["connections"]["clickhouse"], cfg["clickhouse"]["query_timeout_seconds"])


def _queries_evidence(queries: dict) -> dict[str, dict[str, str]]:
    return {key: {"name": q.name, "sql": q.render()} for key, q in queries.items()}


class UsageCoverageCheckOperator(ReadinessCheckOperator):
    """Check 1: every active tenant has usage in the lookback window, once, and the rollups agree."""

    check_id = usage_coverage.CHECK_ID

    def run_check(self, context: Any, cfg: dict, now: dt.datetime) -> CheckResult:
        params = context["params"]
        window = Window(now, int(params["lookback_days"]))
        hook = _clickhouse(cfg)
        queries = usage_coverage.queries(cfg, window)
        rows = hook.run_all(queries)
        result = usage_coverage.evaluate(
            rows,
            cfg,
            window,
            max_missing_days=params.get("max_missing_days"),
            tolerance_usd=Decimal(str(params["reconciliation_tolerance_usd"])),
        )
        result.metrics["clickhouse_queries"] = hook.queries_sent
        result.details["queries"] = _queries_evidence(queries)
        return result


class InvoiceImmutabilityCheckOperator(ReadinessCheckOperator):
    """Check 2: a closed month's invoice regenerates to the same totals, now and in every later run."""

    check_id = invoice_immutability.CHECK_ID
    BASELINE_PREFIX = "billing_readiness_invoice_baseline"

    def run_check(self, context: Any, cfg: dict, now: dt.datetime) -> CheckResult:
        from airflow.sdk import Variable

        params = context["params"]
        month = self._month(params.get("billing_month"), now)
        tolerance = Decimal(str(params["invoice_tolerance_usd"]))
        hook = _clickhouse(cfg)
        queries = invoice_immutability.queries(cfg, month)
        rows = hook.run_all(queries)
        baseline_key = self.baseline_key(f"{hook.clickhouse_conn_id}/{hook.database}", cfg, month)
        baseline = Variable.get(baseline_key, default=None, deserialize_json=True)
        result = invoice_immutability.evaluate(rows, month, tolerance, baseline)
        result.metrics["clickhouse_queries"] = hook.queries_sent
        result.details["queries"] = _queries_evidence(queries)
        result.details["baseline_variable"] = baseline_key
        if result.details.get("baseline_status") == "recorded":
            Variable.set(
                baseline_key,
                {
                    "month": str(month),
                    "source": hook.describe(),
                    "recorded_at": now.isoformat(),
                    "run_id": context["run_id"],
                    "lines": invoice_immutability.baseline_from(result.details["invoice_lines"]),
                },
                description=f"billing-readiness: invoice totals of {month} as first seen; later runs must match",
                serialize_json=True,
            )
        out = run_report_dir(cfg, context["dag"].dag_id, context["run_id"])
        out.mkdir(parents=True, exist_ok=True)
        csv_path = out / f"invoices-{month}.csv"
        csv_path.write_text(invoice_immutability.invoice_csv(result.details["invoice_lines"]))
        result.details["invoice_csv"] = str(csv_path)
        self.log.info("Invoice lines M12.2 would bill for %s: %s", month, csv_path)
        return result

    @staticmethod
    def _month(param: str | None, now: dt.datetime) -> Month:
        if not param:
            return last_closed_month(now)
        try:
            month = Month.parse(param)
        except ValueError as exc:
            raise AirflowFailException(f"param 'billing_month': {exc}") from None
        if not month.is_closed(now):
            raise AirflowFailException(
                f"param 'billing_month' is {month}, which is not closed yet (it ends {month.end:%Y-%m-%d} UTC): "
                "pick a past month, or leave it empty for the last closed month."
            )
        return month

    @classmethod
    def baseline_key(cls, source: str, cfg: dict, month: Month) -> str:
        """One baseline per billed system (connection id, database, events table, invoice query) and month.

        The connection id, not the host: a failover to another replica is the same billing data."""
        scope = json.dumps([source, cfg["usage_events"], cfg["invoice"]["sql"]], sort_keys=True)
        return f"{cls.BASELINE_PREFIX}.{hashlib.sha256(scope.encode()).hexdigest()[:12]}.{month}"


class DashboardLatencyCheckOperator(ReadinessCheckOperator):
    """Check 3: the largest tenants' dashboards load (all panels, concurrently) in under the threshold."""

    check_id = dashboard_latency.CHECK_ID

    def run_check(self, context: Any, cfg: dict, now: dt.datetime) -> CheckResult:
        params = context["params"]
        panels, source, range_s = self._panels(cfg)
        window = Window(now, int(params["lookback_days"]))
        hook = _clickhouse(cfg)
        top = hook.run(dashboard_latency.top_tenants_query(cfg, window, int(params["top_k_tenants"])))
        variable = cfg["dashboard"]["tenant_variable"]
        time_from, time_to = int(now.timestamp()) - range_s, int(now.timestamp())
        measurements = []
        for tenant, events in top:
            try:
                bound = [dashboard_latency.bind(p, variable, tenant, time_from, time_to) for p in panels]
            except dashboard_latency.DashboardError as exc:
                raise AirflowFailException(f"{source}: {exc}") from None
            loads = hook.time_loads(bound, repetitions=int(params["repetitions"]))
            measurements.append({"tenant": tenant, "events": int(events), "loads": loads})
        result = dashboard_latency.evaluate(
            measurements, float(params["latency_threshold_s"]), cfg["usage_events"]["table"], panels
        )
        result.metrics["panel_source"] = source
        result.metrics["clickhouse_queries"] = hook.queries_sent
        return result

    def _panels(self, cfg: dict) -> tuple[list, str, int]:
        """The dashboard's SQL panels, where they came from, and its time range in seconds."""
        d = cfg["dashboard"]
        grafana = cfg["connections"]["grafana"]
        try:
            if grafana and d["grafana_uid"]:
                return self._grafana_panels(grafana, d["grafana_uid"])
            if d["export_file"]:
                path = Path(d["export_file"])
                if not path.is_file():
                    raise AirflowFailException(
                        f"config key 'dashboard.export_file': no such file {path} (export it from Grafana: "
                        "Share > Export > Save to file)"
                    )
                export = json.loads(path.read_text())
                return (dashboard_latency.panels_from_export(export, str(path)), f"export file {path}",
                        dashboard_latency.time_range_seconds(export))
            source = "config 'dashboard.panels'" if d["panels"] is not None else "M12.1 default panels"
            return dashboard_latency.panels_from_config(d["panels"]), source, 24 * 3600
        except (dashboard_latency.DashboardError, json.JSONDecodeError) as exc:
            raise AirflowFailException(str(exc)) from None

    def _grafana_panels(self, conn_id: str, uid: str):
        from billing_readiness.hooks.http_api import HttpApiHook

        http = HttpApiHook(conn_id, timeout_seconds=15, purpose="reading the dashboard from Grafana")
        resp = http.request("GET", f"/api/dashboards/uid/{uid}")
        if resp["status"] is None:
            raise RuntimeError(f"Grafana (connection '{conn_id}') unreachable: {resp['error']}")  # transient
        if resp["status"] != 200:
            raise AirflowFailException(
                f"Grafana (connection '{conn_id}') answered HTTP {resp['status']} for dashboard uid '{uid}' "
                "(config key 'dashboard.grafana_uid')"
            )
        source = f"Grafana dashboard uid {uid}"
        return (dashboard_latency.panels_from_export(resp["body"], source), source,
                dashboard_latency.time_range_seconds(resp["body"]))


class QuotaEnforcementCheckOperator(ReadinessCheckOperator):
    """Check 4: with the probe tenant's quota at L, requests 1..L pass and L+1 gets 429, also under concurrency."""

    check_id = quota_enforcement.CHECK_ID

    def run_check(self, context: Any, cfg: dict, now: dt.datetime) -> CheckResult:
        from billing_readiness.hooks.http_api import HttpApiHook

        params = context["params"]
        q = cfg["quota"]
        limit = int(params["probe_quota_limit"])
        probe = q["probe_tenant_id"]
        self._refuse_real_tenant(cfg, probe)
        api = HttpApiHook(cfg["connections"]["quota_api"], timeout_seconds=float(q["request_timeout_seconds"]))
        control = self._control(cfg, api, probe)
        method = q["method"].upper()
        request = {"headers": {q["tenant_header"]: probe}, **({"json": q["json_body"]} if method == "POST" else {})}

        self._wait_for_window(q)
        sequential: list[dict] = []
        concurrent = None
        try:
            control.setup(limit)
            while quota_enforcement.need_more(sequential, limit):
                sequential.append(api.request(method, q["path"], **request))
            if params["concurrency_probe"] and quota_enforcement.diagnose_sequence(sequential, limit) is None:
                self._wait_for_window(q)
                control.reset(limit)
                concurrent = api.concurrently(2 * limit, method, q["path"], **request)
        finally:
            removed = control.clean()
            if any(r.get("status") is None for r in sequential + (concurrent or [])):
                # A request we gave up on may still be counted by the API after our cleanup.
                time.sleep(float(q["cleanup_grace_seconds"]))
                removed += control.clean()
            self.log.info("Probe cleanup: removed %d item(s) of tenant %s (%s)", removed, probe, control.describe())
        result = quota_enforcement.evaluate(limit, sequential, concurrent, control.leftovers(), probe)
        result.metrics["api"] = api.base_url + q["path"]
        result.metrics["quota_set_via"] = control.describe()
        return result

    @staticmethod
    def _control(cfg: dict, api, probe: str):
        from billing_readiness.hooks.quota_control import HttpAdminQuotaControl, RedisQuotaControl

        q = cfg["quota"]
        if q["admin_path"]:
            return HttpAdminQuotaControl(api, q, probe)
        from airflow.providers.redis.hooks.redis import RedisHook

        from billing_readiness.hooks.connections import get_connection

        get_connection(cfg["connections"]["redis"], "redis", "the quota probe's Redis keys")
        return RedisQuotaControl(RedisHook(redis_conn_id=cfg["connections"]["redis"]).get_conn(), q, probe)

    def _refuse_real_tenant(self, cfg: dict, probe: str) -> None:
        hook = _clickhouse(cfg)
        active = [r[0] for r in hook.run(active_tenants_query(cfg))]
        used = hook.run(quota_enforcement.probe_usage_query(cfg, probe))
        conflict = quota_enforcement.probe_tenant_conflict(probe, active, [r[0] for r in used])
        if conflict:
            raise AirflowFailException(conflict)

    def _wait_for_window(self, q: dict) -> None:
        """Don't straddle the API's counter window: wait for the next one if it rolls over soon."""
        left = q["window_seconds"] - (time.time() % q["window_seconds"])
        if left < q["window_guard_seconds"]:
            self.log.info("Counter window rolls over in %.1fs: waiting for the next window", left)
            time.sleep(left + 1)
