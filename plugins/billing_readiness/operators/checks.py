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
        baseline_key = self.baseline_key(hook.describe(), cfg, month)
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
        """One baseline per billed system (server, database, events table) and month."""
        scope = json.dumps([source, cfg["usage_events"], cfg["invoice"]["sql"]], sort_keys=True)
        return f"{cls.BASELINE_PREFIX}.{hashlib.sha256(scope.encode()).hexdigest()[:12]}.{month}"


class DashboardLatencyCheckOperator(ReadinessCheckOperator):
    """Check 3: the largest tenants' dashboards load (all panels, concurrently) in under the threshold."""

    check_id = dashboard_latency.CHECK_ID

    def run_check(self, context: Any, cfg: dict, now: dt.datetime) -> CheckResult:
        params = context["params"]
        panels, source = self._panels(cfg)
        window = Window(now, int(params["lookback_days"]))
        hook = _clickhouse(cfg)
        top = hook.run(dashboard_latency.top_tenants_query(cfg, window, int(params["top_k_tenants"])))
        variable = cfg["dashboard"]["tenant_variable"]
        time_from, time_to = int(now.timestamp()) - 24 * 3600, int(now.timestamp())
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

    def _panels(self, cfg: dict) -> tuple[list, str]:
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
                return dashboard_latency.panels_from_export(path.read_text(), str(path)), f"export file {path}"
            source = "config 'dashboard.panels'" if d["panels"] is not None else "M12.1 default panels"
            return dashboard_latency.panels_from_config(d["panels"]), source
        except (dashboard_latency.DashboardError, json.JSONDecodeError) as exc:
            raise AirflowFailException(str(exc)) from None

    def _grafana_panels(self, conn_id: str, uid: str):
        from billing_readiness.hooks.quota_api import QuotaApiHook

        http = QuotaApiHook(conn_id, timeout_seconds=15)
        resp = http.request("GET", f"/api/dashboards/uid/{uid}")
        if resp["status"] is None:
            raise RuntimeError(f"Grafana (connection '{conn_id}') unreachable: {resp['error']}")  # transient
        if resp["status"] != 200:
            raise AirflowFailException(
                f"Grafana (connection '{conn_id}') answered HTTP {resp['status']} for dashboard uid '{uid}' "
                "(config key 'dashboard.grafana_uid')"
            )
        source = f"Grafana dashboard uid {uid}"
        return dashboard_latency.panels_from_export(resp["body"], source), source


class QuotaEnforcementCheckOperator(ReadinessCheckOperator):
    """Check 4: with the probe tenant's quota at L, requests 1..L pass and L+1 gets 429, also under concurrency."""

    check_id = quota_enforcement.CHECK_ID

    def run_check(self, context: Any, cfg: dict, now: dt.datetime) -> CheckResult:
        from airflow.providers.redis.hooks.redis import RedisHook

        from billing_readiness.hooks.connections import get_connection
        from billing_readiness.hooks.quota_api import QuotaApiHook

        params = context["params"]
        q = cfg["quota"]
        limit = int(params["probe_quota_limit"])
        probe = q["probe_tenant_id"]
        self._refuse_real_tenant(cfg, probe)

        get_connection(cfg["connections"]["redis"], "redis", "the quota probe's Redis keys")
        redis = RedisHook(redis_conn_id=cfg["connections"]["redis"]).get_conn()
        api = QuotaApiHook(cfg["connections"]["quota_api"], timeout_seconds=float(q["request_timeout_seconds"]))
        headers = {q["tenant_header"]: probe}
        body = {"json": q["json_body"]} if q["method"].upper() == "POST" else {}

        def send():
            return api.request(q["method"].upper(), q["path"], headers=headers, **body)

        self._wait_for_window(q)
        sequential: list[dict] = []
        concurrent = None
        try:
            self._setup(redis, q, probe, limit)
            while quota_enforcement.need_more(sequential, limit):
                sequential.append(send())
            if params.get("concurrency_probe", True) and quota_enforcement.diagnose_sequence(sequential, limit) is None:
                self._wait_for_window(q)
                self._clean(redis, q, probe)
                self._setup(redis, q, probe, limit)
                concurrent = api.concurrently(2 * limit, q["method"].upper(), q["path"], headers=headers, **body)
        finally:
            self._clean(redis, q, probe)
        leftovers = self._leftovers(redis, q, probe)
        result = quota_enforcement.evaluate(limit, sequential, concurrent, leftovers, probe)
        result.metrics["api"] = api.base_url + q["path"]
        return result

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

    @staticmethod
    def _keys(redis, q: dict, probe: str) -> list[str]:
        keys: set[str] = set()
        for pattern in q["cleanup_patterns"]:
            for key in redis.scan_iter(match=pattern.format(tenant_id=probe), count=500):
                keys.add(key.decode() if isinstance(key, bytes) else key)
        return sorted(keys)

    def _setup(self, redis, q: dict, probe: str, limit: int) -> None:
        pipe = redis.pipeline()
        for template, value in q["setup_keys"].items():
            pipe.set(template.format(tenant_id=probe), str(value).format(limit=limit), ex=q["key_ttl_seconds"])
        for key in self._keys(redis, q, probe):
            if not any(key == t.format(tenant_id=probe) for t in q["setup_keys"]):
                pipe.delete(key)  # stale counters of an earlier probe
        pipe.execute()

    def _clean(self, redis, q: dict, probe: str) -> None:
        keys = self._keys(redis, q, probe)
        if keys:
            redis.delete(*keys)
            self.log.info("Removed %d probe key(s) of tenant %s", len(keys), probe)

    def _leftovers(self, redis, q: dict, probe: str) -> list[str]:
        return self._keys(redis, q, probe)
