"""The promotion gate: M12.1 is promoted to M12.2 only when every check passed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from billing_readiness import VARIABLE_KEY
from billing_readiness.shell.assets import M12_1_READY_FOR_BILLING
from billing_readiness.shell.operators.check import checks_by_task


class PromotionGateOperator(BaseOperator):
    """Final task, trigger rule all_done: it runs whatever the checks did and promotes only when every check
    handed over a passing verdict, so a failed, skipped or crashed check, or one marked success by hand
    without a result, makes the gate fail and the run red. A run with relaxed params promotes only where
    config 'promotion.allow_relaxed' allows it, and says so. With a burn-in (config
    'promotion.require_green_runs' > 1) a green run before the streak is long enough skips the gate: the run
    stays green, nothing is promoted, and the log says how many more green runs are needed. On success it updates the
    Asset
    "m12_1_ready_for_billing" with the readiness summary as the event's extra, which is what schedules M12.2."""

    ui_color = "#d9f2d9"

    def __init__(self, *, checks: list, config_variable: str = VARIABLE_KEY, **kwargs):
        # Task ids of the deployment's own checks (e.g. common.sql's SQLTableCheckOperator) that gate promotion
        # too: each must have succeeded (billing_readiness.shell.dag.gate_on adds them).
        self.user_checks: list[str] = list(kwargs.pop("user_checks", []))
        kwargs["trigger_rule"] = TriggerRule.ALL_DONE
        kwargs.setdefault("retries", 0)
        kwargs.setdefault("outlets", [M12_1_READY_FOR_BILLING])
        kwargs.setdefault("execution_timeout", timedelta(minutes=5))
        super().__init__(**kwargs)
        self.checks = checks_by_task(checks)
        self.config_variable = config_variable
        if not self.checks:
            raise ValueError("PromotionGateOperator needs the check tasks it gates (checks=[...])")

    def execute(self, context: Any) -> dict:
        from billing_readiness.config import variable_config_or_defaults
        from billing_readiness.config.relaxation import relaxations
        from billing_readiness.core.results import collect_results
        from billing_readiness.reporting.promotion import decide

        results = collect_results(context, self.checks)
        missing = [self.checks[t].title for t, r in results.items() if r is None]
        failed = [r["summary"] for r in results.values() if r is not None and not r["passed"]]
        failed += self._user_checks_not_passed(context)
        if missing or failed:
            raise AirflowFailException(
                "Not promoting M12.1 to M12.2: "
                + "; ".join([f"{t}: no result (skipped, crashed or never ran)" for t in missing] + failed)
            )
        cfg, _ = variable_config_or_defaults(self.config_variable)
        relaxed = relaxations(list(self.checks.values()), dict(context["params"]), cfg, results)
        run_type = getattr(context["dag_run"].run_type, "value", str(context["dag_run"].run_type))
        outcome = decide(True, relaxed, run_type, cfg, self._previous(context, cfg))
        if outcome.refused:
            raise AirflowFailException(f"Not promoting M12.1 to M12.2: {outcome.refused}.")
        if outcome.waiting:
            # Healthy but not yet trusted long enough: the run stays green and nothing is promoted (a skipped
            # gate updates no Asset and sends no notice).
            raise AirflowSkipException(f"Not promoting M12.1 to M12.2 yet: {outcome.waiting}.")
        summary = {
            "ready_for_billing": True,
            "relaxed": relaxed,
            "run_id": context["run_id"],
            "green_runs": outcome.burn_in["streak"],
            "checks": {
                self.checks[t].id: {"passed": r["passed"], "summary": r["summary"], "metrics": r["metrics"]}
                for t, r in results.items()
                if r is not None  # every one is: a missing result refused promotion above
            },
        }
        if self.user_checks:
            summary["user_checks"] = {t: "success" for t in self.user_checks}
        for asset in self.outlets:
            context["outlet_events"][asset].extra = summary
        self.log.info(
            "All %d readiness checks passed: M12.1 is promoted to M12.2 (billing integration)%s.",
            len(self.checks),
            f", with relaxed checks: {'; '.join(relaxed)}" if relaxed else "",
        )
        return summary

    def _previous(self, context: Any, cfg: dict) -> list[dict] | None:
        """The run history before this run when a burn-in needs it (None: unreadable, which refuses)."""
        if cfg["promotion"]["require_green_runs"] <= 1:
            return []
        import datetime as dt

        from billing_readiness.core.run_anchor import from_context
        from billing_readiness.reporting import history, history_store

        as_of = from_context(context, dt.datetime.now(dt.timezone.utc)).at.isoformat()
        try:
            return history.previous(
                history_store.load(cfg, context["dag"].dag_id, before=as_of), context["run_id"], as_of
            )
        except Exception as exc:  # noqa: BLE001 - fail closed, saying why
            self.log.error("The run history cannot be read: %s: %s", type(exc).__name__, exc)
            return None

    def _user_checks_not_passed(self, context: Any) -> list[str]:
        """The deployment's own gating tasks that did not succeed, as the refusal says them. A state the API
        server will not tell counts as not passed: the gate fails closed."""
        if not self.user_checks:
            return []
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        dag_id, run_id = context["dag"].dag_id, context["run_id"]
        try:
            states = RuntimeTaskInstance.get_task_states(dag_id=dag_id, task_ids=self.user_checks, run_ids=[run_id])
        except Exception as exc:  # noqa: BLE001 - unknown is not passed
            return [f"your check(s) {', '.join(self.user_checks)}: state unknown ({type(exc).__name__})"]
        seen = (states or {}).get(run_id, {})
        out = []
        for task_id in self.user_checks:
            state = seen.get(task_id)
            state = str(getattr(state, "value", state)) if state is not None else "no state"
            if state != "success":
                out.append(f"your check '{task_id}': {state}")
        return out
