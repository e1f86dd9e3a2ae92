"""What each check task tells the systems teams already watch; both optional, neither needed to run, and
neither can change a verdict (a failure here is logged and forgotten).

- Airflow's own metrics (sent wherever the deployment's Airflow sends its StatsD / OpenTelemetry metrics, [metrics]
  config): gauges `billing_readiness.check.passed` (1/0), `.failures`, `.warnings`, `.key_figure` and the counter
  `billing_readiness.check.failed`, tagged dag_id and check; and the same under
  `billing_readiness.<dag_id>.<check>.<name>` for plain StatsD, which drops tags (Airflow's legacy names do the same).
- OpenLineage, where the provider is installed: the ClickHouse tables a check reads as input datasets, each with a
  `dataQualityAssertions` facet (the check's verdict and each finding code, the way common.sql's check operators
  report theirs); a check that reads no table (the quota probe) reports them as the run's `test` facet.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
PREFIX = "billing_readiness"


def figures(check, result: dict) -> dict[str, float]:
    """The numbers a check task sends as gauges."""
    from billing_readiness.reporting.history import key_figure

    findings = result.get("findings", [])
    left = sum((result.get("findings_left_out") or {}).values())
    out = {
        "passed": 1.0 if result.get("passed") else 0.0,
        "failures": float(sum(1 for f in findings if f["severity"] == "fail") + left),
        "warnings": float(sum(1 for f in findings if f["severity"] == "warn")),
    }
    figure = key_figure(check, result)
    if figure is not None:
        out["key_figure"] = figure
    return out


def send_metrics(dag_id: str, check, result: dict) -> None:
    try:
        from airflow.sdk.observability.stats import gauge, incr

        tags = {"dag_id": dag_id, "check": check.id}
        for name, value in figures(check, result).items():
            value = int(value) if float(value).is_integer() else value  # "1|g", as StatsD tools expect counts
            gauge(f"{PREFIX}.check.{name}", value, tags=tags)
            gauge(f"{PREFIX}.{dag_id}.{check.id}.{name}", value)
        if not result.get("passed"):
            incr(f"{PREFIX}.check.failed", tags=tags)
            incr(f"{PREFIX}.{dag_id}.{check.id}.failed")
    except Exception as exc:  # noqa: BLE001 - metrics are a courtesy, never the verdict
        log.warning("billing-readiness metrics not sent: %s: %s", type(exc).__name__, exc)


def lineage(check, result: dict | None, cfg: dict | None, conn: Any) -> Any:
    """The OperatorLineage of a check task (None: the OpenLineage provider is not installed, or no result)."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import InputDataset
        from openlineage.client.facet_v2 import data_quality_assertions_dataset as dq
        from openlineage.client.facet_v2 import test_run
    except ImportError:
        return None
    if result is None or cfg is None:
        return None
    verdicts = [("readiness_check", bool(result.get("passed")), "fail", result.get("summary", ""))]
    seen: dict[str, dict] = {}
    for f in result.get("findings", []):
        if f["severity"] != "info":
            seen.setdefault(f["code"], f)
    verdicts += [(code, False, f["severity"], f["message"][:500]) for code, f in seen.items()]
    namespace = f"clickhouse://{conn.host}:{conn.port or 9000}" if conn is not None else "clickhouse://unknown"
    database = (conn.schema if conn is not None else None) or "default"
    tables = [cfg[section]["table"] for section in check.reads]
    if not tables:
        tests = [
            test_run.TestExecution(
                name=f"{check.id}.{code}", status="pass" if ok else "fail", severity=sev, type=code, description=text
            )
            for code, ok, sev, text in verdicts
        ]
        return OperatorLineage(run_facets={"test": test_run.TestRunFacet(tests=tests)})
    assertions = [
        dq.Assertion(assertion=code, success=ok, severity=sev, name=f"{check.id}.{code}", description=text)
        for code, ok, sev, text in verdicts
    ]
    inputs = [
        InputDataset(
            namespace=namespace,
            name=t if "." in t else f"{database}.{t}",
            facets={"dataQualityAssertions": dq.DataQualityAssertionsDatasetFacet(assertions=assertions)},  # type: ignore[dict-item]
        )
        for t in tables
    ]
    return OperatorLineage(inputs=inputs)
