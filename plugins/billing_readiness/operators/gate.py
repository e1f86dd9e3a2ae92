"""The promotion gate: M12.1 is promoted to M12.2 only when every check passed."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import AirflowFailException

from billing_readiness.assets import M12_1_READY_FOR_BILLING
from billing_readiness.checks.contract import Check
from billing_readiness.results import RESULT_XCOM_KEY


def checks_of(tasks: list) -> dict[str, Check]:
    """task id -> the check it runs, for the check operators the gate or the report follows."""
    return {task.task_id: task.check for task in tasks}


def collect_results(context: Any, checks: dict[str, Check]) -> dict[str, dict | None]:
    """task id -> the result dict its check pushed (None if it pushed none)."""
    ti = context["ti"]
    return {task_id: ti.xcom_pull(task_ids=task_id, key=RESULT_XCOM_KEY) for task_id in checks}


class PromotionGateOperator(BaseOperator):
    """Final task, trigger rule all_success: it runs only when every check task succeeded, and then
    verifies each check's own verdict again, so a check marked success by hand, or one that produced
    no result, still cannot promote. On success it updates the Asset "m12_1_ready_for_billing" with the
    readiness summary as the event's extra, which is what schedules M12.2."""

    ui_color = "#d9f2d9"

    def __init__(self, *, checks: list, **kwargs):
        kwargs["trigger_rule"] = TriggerRule.ALL_SUCCESS
        kwargs.setdefault("retries", 0)
        kwargs.setdefault("outlets", [M12_1_READY_FOR_BILLING])
        kwargs.setdefault("execution_timeout", timedelta(minutes=5))
        super().__init__(**kwargs)
        self.checks = checks_of(checks)
        if not self.checks:
            raise ValueError("PromotionGateOperator needs the check tasks it gates (checks=[...])")

    def execute(self, context: Any) -> dict:
        results = collect_results(context, self.checks)
        missing = [self.checks[t].title for t, r in results.items() if r is None]
        failed = [r["summary"] for r in results.values() if r is not None and not r["passed"]]
        if missing or failed:
            raise AirflowFailException(
                "Not promoting M12.1 to M12.2: " + "; ".join([f"{t}: no result" for t in missing] + failed)
            )
        summary = {
            "ready_for_billing": True,
            "run_id": context["run_id"],
            "checks": {self.checks[t].id: {"passed": r["passed"], "summary": r["summary"], "metrics": r["metrics"]}
                       for t, r in results.items()},
        }
        for asset in self.outlets:
            context["outlet_events"][asset].extra = summary
        self.log.info("All %d readiness checks passed: M12.1 is promoted to M12.2 (billing integration).",
                      len(self.checks))
        return summary
