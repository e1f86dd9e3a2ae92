"""The promotion gate: M12.1 is promoted to M12.2 only when all four checks passed."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import AirflowFailException

from billing_readiness.assets import M12_1_READY_FOR_BILLING
from billing_readiness.checks import CHECKS
from billing_readiness.operators.base import RESULT_XCOM_KEY


def collect_results(context: Any, task_ids: dict[str, str]) -> dict[str, dict | None]:
    """check id -> the CheckResult dict its task pushed (None if it pushed none)."""
    ti = context["ti"]
    return {check: ti.xcom_pull(task_ids=task_id, key=RESULT_XCOM_KEY) for check, task_id in task_ids.items()}


class PromotionGateOperator(BaseOperator):
    """Final task, trigger rule all_success: it runs only when every check task succeeded, and then
    verifies each check's own verdict again, so a check marked success by hand, or one that produced
    no result, still cannot promote. On success it updates the Asset "m12_1_ready_for_billing" with the
    readiness summary as the event's extra, which is what schedules M12.2."""

    ui_color = "#d9f2d9"

    def __init__(self, *, check_task_ids: dict[str, str], **kwargs):
        kwargs["trigger_rule"] = TriggerRule.ALL_SUCCESS
        kwargs.setdefault("retries", 0)
        kwargs.setdefault("outlets", [M12_1_READY_FOR_BILLING])
        kwargs.setdefault("execution_timeout", timedelta(minutes=5))
        super().__init__(**kwargs)
        self.check_task_ids = check_task_ids

    def execute(self, context: Any) -> dict:
        results = collect_results(context, self.check_task_ids)
        missing = [CHECKS[c][0] for c, r in results.items() if r is None]
        failed = [r["summary"] for r in results.values() if r is not None and not r["passed"]]
        absent = [CHECKS[c][0] for c in CHECKS if c not in results]
        if missing or failed or absent:
            raise AirflowFailException(
                "Not promoting M12.1 to M12.2: "
                + "; ".join([f"{t}: no result" for t in missing + absent] + failed)
            )
        summary = {
            "ready_for_billing": True,
            "run_id": context["run_id"],
            "checks": {c: {"passed": r["passed"], "summary": r["summary"], "metrics": r["metrics"]}
                       for c, r in results.items()},
        }
        for asset in self.outlets:
            context["outlet_events"][asset].extra = summary
        self.log.info("All four readiness checks passed: M12.1 is promoted to M12.2 (billing integration).")
        return summary
