"""
### billing_readiness: is M12.1 usage metering ready for automated billing (M12.2)?

Checks 1, 2 and 4 run in parallel against the metering system, check 3 (which
times the dashboard) right after them, so it never measures the gate's own load;
**`promote_to_m12_2` promotes only when all four pass** and is a final task, so a
failed, skipped or crashed check fails the run. `readiness_report` runs whatever
happened and writes the report (JSON, Markdown, HTML) with every check's numbers and evidence.

| task | checks | if it fails |
|---|---|---|
| `check_usage_coverage` | every active tenant has usage on every day since its first usage; rollups agree with raw events up to now; ingestion is live; costs are finite; no duplicate event ids | wrong or missing invoice lines |
| `check_invoice_immutability` | nothing ingested into or mutated in the last closed month after the fact; its invoice regenerates to the same totals (±$0.01), now and in every later run | billing disputes when prices change |
| `check_dashboard_latency` | the largest tenant's dashboard loads in under the threshold (p95) | customers cannot verify invoices |
| `check_quota_enforcement` | with the probe quota at 10 (then 7), request 11 (then 8) gets HTTP 429, also under concurrency | runaway usage nobody pays for |

Connections: `clickhouse_default`, `redis_default`, `quota_api_default`.
Names of tables, columns, keys and endpoints: Variable `billing_readiness_config` (README.md).
"""
from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param
from airflow.timetables.trigger import CronTriggerTimetable

from billing_readiness.checks.contract import load_check
from billing_readiness.notifiers import PROMOTION, REFUSED, ReadinessNotifier
from billing_readiness.param_formats import FINITE, register as register_param_formats
from billing_readiness.operators import (
    PromotionGateOperator,
    ReadinessCheckOperator,
    ReadinessReportOperator,
    after_the_others,
)

# The checks, one module each under plugins/billing_readiness/checks/: adding one is a module and a line here.
CHECKS = [
    "billing_readiness.checks.usage_coverage",  # check 1: ClickHouse data accuracy
    "billing_readiness.checks.invoice_immutability",  # check 2: immutable cost storage
    "billing_readiness.checks.dashboard_latency",  # check 3: dashboard performance
    "billing_readiness.checks.quota_enforcement",  # check 4: quota enforcement
]

SCHEDULE = os.environ.get("BILLING_READINESS_SCHEDULE", "0 3 * * *")  # nightly; "none": manual runs only
TIMEZONE = os.environ.get("BILLING_READINESS_TIMEZONE", "UTC")

register_param_formats()  # NaN and infinities refused where the run is created
PARAMS = {
    "lookback_days": Param(
        30, type="integer", minimum=1, maximum=366, title="Lookback days",
        description="Complete UTC days (plus today so far) in which every active tenant must have usage. "
        "Below 30 the run is 'relaxed': "
        "a relaxed run never promotes unless config promotion.allow_relaxed opts in.",
    ),
    "max_missing_days": Param(
        0, type="integer", minimum=0, maximum=366, title="Missing days allowed per tenant",
        description="Complete UTC days without usage (since the tenant's first usage) a tenant may have before "
        "check 1 fails. 0: usage every day. Raise it only where quiet days are normal for some tenants. "
        "Above 0 the run is 'relaxed': "
        "a relaxed run never promotes unless config promotion.allow_relaxed opts in.",
    ),
    "partial_days_fail": Param(
        False, type="boolean", title="Partial-loss days fail",
        description="A day with under 10% (config coverage.partial_day_ratio) of both the days around it and the "
        "same weekday is a warning in the report; with this on, it fails check 1.",
    ),
    "silent_tenants_fail": Param(
        False, type="boolean", title="Silent large tenants fail",
        description="A tenant silent for hours (config coverage.tenant_silence_seconds) that usually sends many "
        "events at this time of day is a warning in the report; with this on, it fails check 1.",
    ),
    "reconciliation_tolerance_usd": Param(
        0.01, type="number", format=FINITE, minimum=0, maximum=0.1, title="Rollup tolerance (USD, at most 0.10)",
        description="Largest cost difference per tenant and day between usage_events and the rollups. Cents, not "
        "dollars: float summation error is far below a cent, so more hides real drift. Above 0.01 the run is "
        "'relaxed': "
        "a relaxed run never promotes unless config promotion.allow_relaxed opts in.",
    ),
    "billing_month": Param(
        None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$", title="Billing month (YYYY-MM)",
        description="Closed month whose invoices check 2 regenerates. Empty: the last closed UTC month. "
        "Any other month leaves the last closed month unchecked: the run is 'relaxed': "
        "a relaxed run never promotes unless config promotion.allow_relaxed opts in.",
    ),
    "invoice_tolerance_usd": Param(
        0.01, type="number", format=FINITE, minimum=0, maximum=0.1, title="Invoice tolerance (USD, at most 0.10)",
        description="Largest per-tenant difference between two generations of the same invoice (the spec: +-$0.01). "
        "Cents, not dollars: a re-priced small tenant differs by cents. Above 0.01 the run is 'relaxed': "
        "a relaxed run never promotes unless config promotion.allow_relaxed opts in.",
    ),
    "latency_threshold_s": Param(
        1.0, type="number", format=FINITE, exclusiveMinimum=0, maximum=60, title="Dashboard load threshold (seconds)",
        description="The largest tenant's dashboard must load (p95, all panels concurrently) in less than this. "
        "Above 1.0 the run is 'relaxed': "
        "a relaxed run never promotes unless config promotion.allow_relaxed opts in.",
    ),
    "repetitions": Param(
        5, type="integer", minimum=1, maximum=100, title="Dashboard loads to time",
        description="Timed loads after one warm-up; p95 is taken over these. Below 5 the run is 'relaxed': "
        "a relaxed run never promotes unless config promotion.allow_relaxed opts in.",
    ),
    "top_k_tenants": Param(
        1, type="integer", minimum=1, maximum=20, title="Largest tenants to time",
        description="How many of the largest tenants (most events in the lookback window) get their dashboard timed.",
    ),
    "probe_quota_limit": Param(
        10, type="integer", minimum=1, maximum=80, title="Probe quota limit",
        description="Quota given to the probe tenant: requests 1..N must pass, request N+1 must get HTTP 429. At "
        "most 80: the probe's keys must outlive it under the default config quota.key_ttl_seconds (900).",
    ),
    "concurrency_probe": Param(
        True, type="boolean", title="Concurrency probe",
        description="Also send 2 x limit requests at once; more than the limit accepted fails check 4. "
        "Off: the run is 'relaxed': "
        "a relaxed run never promotes unless config promotion.allow_relaxed opts in.",
    ),
}

with DAG(
    dag_id="billing_readiness",
    description="Nightly gate: is M12.1 usage metering trustworthy enough to switch on M12.2 billing?",
    doc_md=__doc__,
    schedule=None if SCHEDULE.lower() == "none" else CronTriggerTimetable(SCHEDULE, timezone=pendulum.timezone(TIMEZONE)),
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,  # overlapping runs would fight over the quota probe tenant
    dagrun_timeout=timedelta(hours=2),
    params=PARAMS,
    tags=["billing", "readiness", "m12"],
    default_args={
        "owner": "data-platform",
        # One alert per failed check (task-level callbacks: DAG-level failure callbacks do not fire
        # reliably in Airflow 3, apache/airflow#63374). The gate and report do not alert.
        "on_failure_callback": [ReadinessNotifier()],
    },
) as dag:
    # One task per check (task id check_<id>); the check's module documents it (doc_md).
    checks = [ReadinessCheckOperator(check=load_check(module)) for module in CHECKS]
    after_the_others(checks)  # check 3 times the dashboard only once the other checks left ClickHouse alone

    promote = PromotionGateOperator(
        task_id="promote_to_m12_2",
        checks=checks,
        # alerts when no check alert says why (a check skipped or without a result, relaxed params refused)
        on_failure_callback=[ReadinessNotifier(kind=REFUSED)],
        on_success_callback=[ReadinessNotifier(kind=PROMOTION)],
        doc_md="The gate (all_done, final task): promotes M12.1 to M12.2 only when every check handed over a passing "
        "verdict (a failed, skipped or crashed check fails it, and the run), and relaxed params only where config "
        "`promotion.allow_relaxed` allows; then updates the Asset `m12_1_ready_for_billing` (which schedules M12.2) "
        "and sends the promotion notice.",
    )
    readiness_report = ReadinessReportOperator(
        task_id="readiness_report",
        checks=checks,
        on_failure_callback=None,
        doc_md="Writes the readiness report (JSON, Markdown, HTML) whatever the checks' outcome (all_done). "
        "It does not decide promotion and does not colour the run.",
    )
    checks >> promote
    checks >> readiness_report
