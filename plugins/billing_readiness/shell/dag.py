"""The readiness DAG as the package builds it: `dag = build()` in a file of the DAGs folder is the whole DAG
(dags/billing_readiness_dag.py is that file). The checks, one package each under billing_readiness/checks/,
are listed in CHECKS: adding one is a package and a line there; the tasks, the form's params, the gate, the
report and the alerts follow from the list. Nothing here runs a query: tasks import what they need when they run.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from billing_readiness.checks import CHECKS  # the four checks, in order (a fifth: its package and a line there)

DOC_INTRO = """
### billing_readiness: is M12.1 usage metering ready for automated billing (M12.2)?

Checks 1, 2 and 4 run in parallel against the metering system, check 3 (which
times the dashboard) right after them, so it never measures the gate's own load;
**`promote_to_m12_2` promotes only when every check passes** and is a final task, so a
failed, skipped or crashed check fails the run. `readiness_report` runs whatever
happened and writes the report (JSON, Markdown, HTML) with every check's numbers and evidence,
and the run's record in the history (streaks, since-when, trends; the run's "Readiness report" tab).
"""
DOC_OUTRO = """
Connections: `clickhouse_native_default` (type clickhouse_native), `redis_default`, `quota_api_default`.
Names of tables, columns, keys and endpoints: Variable `billing_readiness_config` (docs/operations.md).
"""


def doc_md(checks: list) -> str:
    """The DAG's documentation in the Airflow UI, its table generated from the checks it runs."""
    from billing_readiness.reporting.check_table import markdown

    return f"{DOC_INTRO}\n{markdown(checks)}\n{DOC_OUTRO}"


DOC_MD = doc_md(CHECKS)

GATE_DOC = (
    "The gate (all_done, final task): promotes M12.1 to M12.2 only when every check handed over a passing "
    "verdict (a failed, skipped or crashed check fails it, and the run), and relaxed params only where config "
    "`promotion.allow_relaxed` allows; with a burn-in (config `promotion.require_green_runs`) it skips, "
    "run green and nothing promoted, until enough consecutive green runs; then updates the Asset "
    "`m12_1_ready_for_billing` (which schedules "
    "M12.2) and sends the promotion notice."
)
REPORT_DOC = (
    "Writes the readiness report (JSON, Markdown, HTML) whatever the checks' outcome (all_done), "
    "and the run's record in the history beside it (streaks, since-when, trends). "
    "It does not decide promotion and does not colour the run."
)


def build(
    dag_id: str = "billing_readiness",
    checks: list | None = None,
    *,
    schedule: str | None = None,
    timezone: str | None = None,
    notifiers: list | None = None,
    queues: dict[str, str] | None = None,
    config_variable: str | None = None,
    **dag_kwargs: Any,
):
    """The readiness DAG: one task per check (check_<id>) fanning in to the final gate `promote_to_m12_2`, and
    the report. `schedule`: a cron expression, or "none" for manual runs only (default: environment
    BILLING_READINESS_SCHEDULE, else nightly at 03:00); `timezone` the cron's (BILLING_READINESS_TIMEZONE, else
    UTC). `notifiers`: Airflow notifiers (SlackWebhookNotifier, SmtpNotifier, ...) that get every alert beside the
    built-in webhook, with the readiness message in their templates (notifiers.SUBJECT, TEXT, HTML). `queues`:
    task id -> the executor queue it runs on (Celery, Kubernetes: e.g. check_dashboard_latency on workers beside
    Grafana); the others run on [operators] default_queue. `config_variable`: the Airflow Variable holding this
    DAG's config (default billing_readiness_config): a staging and a production DAG from one install each read
    their own, and keep their own baselines, probe tenant and promotion Asset (named by the dag id). Other keyword
    arguments go to the DAG (tags, owner links, ...)."""
    from airflow.sdk import DAG

    from billing_readiness import VARIABLE_KEY
    from billing_readiness.core.param_formats import register as register_param_formats

    checks = list(CHECKS if checks is None else checks)
    variable = config_variable or VARIABLE_KEY
    register_param_formats()  # NaN and infinities refused where the run is created
    kwargs = _dag_arguments(checks, schedule, timezone, notifiers, variable)
    kwargs.update(dag_kwargs)
    with DAG(dag_id=dag_id, **kwargs) as dag:
        _tasks(dag_id, checks, notifiers, variable)
    unknown = sorted(set(queues or {}) - set(dag.task_dict))
    if unknown:
        raise ValueError(
            f"build(queues=...): no task {', '.join(unknown)} in {dag_id} "
            f"(its tasks: {', '.join(sorted(dag.task_dict))})"
        )
    for task_id, queue in (queues or {}).items():
        dag.task_dict[task_id].queue = queue
    return dag


def _dag_arguments(checks: list, schedule: str | None, timezone: str | None, notifiers, variable: str) -> dict:
    """The DAG's schedule, params, documentation and default task arguments."""
    import pendulum
    from airflow.timetables.trigger import CronTriggerTimetable

    from billing_readiness.core.params import dag_params
    from billing_readiness.shell.notifiers import FAILURE, callbacks

    schedule = schedule or os.environ.get("BILLING_READINESS_SCHEDULE", "0 3 * * *")
    timezone = timezone or os.environ.get("BILLING_READINESS_TIMEZONE", "UTC")
    return {
        "description": "Nightly gate: is M12.1 usage metering trustworthy enough to switch on M12.2 billing?",
        "doc_md": doc_md(checks),
        "schedule": None
        if schedule.lower() == "none"
        else CronTriggerTimetable(schedule, timezone=pendulum.timezone(timezone)),
        "start_date": pendulum.datetime(2025, 1, 1, tz=timezone),
        "catchup": False,
        "max_active_runs": 1,  # overlapping runs would fight over the quota probe tenant
        "dagrun_timeout": timedelta(hours=2),
        "params": dag_params(checks),
        "tags": ["billing", "readiness", "m12"],
        "default_args": {
            "owner": "data-platform",
            # Alerts per check (task-level callbacks: DAG-level failure callbacks do not fire reliably in
            # Airflow 3, apache/airflow#63374), as config `alerts` asks: a failure's first run, then reminders.
            # The report does not alert.
            "on_failure_callback": callbacks(FAILURE, notifiers, variable),
        },
    }


def _tasks(dag_id: str, checks: list, notifiers, variable: str) -> None:
    """One task per check (check_<id>, documented by its check), the final gate and the report."""
    from billing_readiness.shell.assets import promotion_asset
    from billing_readiness.shell.notifiers import PASSED, PROMOTION, REFUSED, callbacks
    from billing_readiness.shell.operators import (
        PromotionGateOperator,
        ReadinessCheckOperator,
        ReadinessReportOperator,
        after_the_others,
    )

    tasks = [
        ReadinessCheckOperator(  # success callbacks: a recovery, new warnings
            check=check, config_variable=variable, on_success_callback=callbacks(PASSED, notifiers, variable)
        )
        for check in checks
    ]
    after_the_others(tasks)  # check 3 times the dashboard only once the other checks left ClickHouse alone
    promote = PromotionGateOperator(
        task_id="promote_to_m12_2",
        checks=tasks,
        doc_md=GATE_DOC,
        config_variable=variable,
        outlets=[promotion_asset(dag_id)],
        # alerts when no check alert says why (a check skipped or without a result, relaxed params refused)
        on_failure_callback=callbacks(REFUSED, notifiers, variable),
        on_success_callback=callbacks(PROMOTION, notifiers, variable),
    )
    report = ReadinessReportOperator(
        task_id="readiness_report", checks=tasks, on_failure_callback=None, doc_md=REPORT_DOC, config_variable=variable
    )
    tasks >> promote
    tasks >> report


def gate_on(dag, *tasks) -> None:
    """Make the deployment's own tasks gate promotion like the readiness checks: e.g. a common.sql
    SQLTableCheckOperator on the clickhouse_native connection. Each runs before the gate, and the gate promotes
    only when each succeeded (a failed, skipped or never-run one refuses promotion and fails the run).

        dag = build()
        with dag:
            rows = SQLTableCheckOperator(task_id="daily_rows", conn_id="clickhouse_native_default", table=...)
        gate_on(dag, rows)
    """
    gate = dag.task_dict["promote_to_m12_2"]
    for task in tasks:
        if task.dag_id != dag.dag_id:
            raise ValueError(f"gate_on: task {task.task_id} is not in DAG {dag.dag_id}")
        task >> gate
        if task.task_id not in gate.user_checks:
            gate.user_checks.append(task.task_id)
