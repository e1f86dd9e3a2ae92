"""The readiness report task: runs whatever happened (all_done) and writes the report files."""
from __future__ import annotations

import datetime as dt
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import AirflowFailException

from billing_readiness import VARIABLE_KEY
from billing_readiness.operators.check import checks_by_task


class ReadinessReportOperator(BaseOperator):
    """Writes readiness.json, readiness.md and readiness.html for the run and prints the Markdown to the task log.

    It does not decide promotion (the gate does) and it is not what makes the run red or green. With an
    invalid config it still writes the report (to the default folder) and says why the config was refused."""

    ui_color = "#fdf5e6"

    def __init__(self, *, checks: list, config_variable: str = VARIABLE_KEY, **kwargs):
        kwargs["trigger_rule"] = TriggerRule.ALL_DONE
        kwargs.setdefault("retries", 1)
        kwargs.setdefault("execution_timeout", timedelta(minutes=10))
        super().__init__(**kwargs)
        self.checks = checks_by_task(checks)
        self.config_variable = config_variable

    def execute(self, context: Any) -> str:
        from billing_readiness import artifacts, report, report_html
        from billing_readiness.config import variable_config_or_defaults
        from billing_readiness.errors import CheckError
        from billing_readiness.relaxation import relaxations
        from billing_readiness.results import collect_results
        from billing_readiness.run_anchor import from_context

        cfg, problem = variable_config_or_defaults(self.config_variable)
        dag_id, run_id = context["dag"].dag_id, context["run_id"]
        results = report.with_result_files(collect_results(context, self.checks),
                                           lambda name: artifacts.read(cfg, dag_id, run_id, name))
        clock = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        run = {
            "dag_id": dag_id,
            "run_id": run_id,
            "generated_at": clock.isoformat(),
            "as_of": from_context(context, clock).describe(),
            "params": {k: v for k, v in context["params"].items()},
            "config_problem": problem,
            "relaxed": relaxations(list(self.checks.values()), dict(context["params"]), cfg, results),
        }
        doc = report.build(list(self.checks.values()), list(results.values()), run)
        markdown = report.to_markdown(doc, self.checks.values())
        self.log.info("Readiness report for %s\n\n%s", run["run_id"], markdown)
        files = {"readiness.json": report.to_json(doc), "readiness.md": markdown,
                 "readiness.html": report_html.to_html(doc, self.checks.values())}
        try:
            out = artifacts.write(cfg, run["dag_id"], run["run_id"], files)
        except CheckError as exc:
            raise AirflowFailException(f"cannot write the readiness report: {exc}") from None
        self.log.info("Readiness report written to %s", out)
        return out
