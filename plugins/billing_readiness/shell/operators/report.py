"""The readiness report task: runs whatever happened (all_done) and writes the report files."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import AirflowFailException

from billing_readiness import VARIABLE_KEY
from billing_readiness.shell.operators.check import checks_by_task
from billing_readiness.shell.operators.links import ReadinessReportLink


class ReadinessReportOperator(BaseOperator):
    """Writes readiness.json, readiness.md and readiness.html for the run and prints the Markdown to the task log.

    It does not decide promotion (the gate does) and it is not what makes the run red or green. With an
    invalid config it still writes the report (to the default folder) and says why the config was refused."""

    ui_color = "#fdf5e6"
    operator_extra_links = (ReadinessReportLink(),)

    def __init__(self, *, checks: list, config_variable: str = VARIABLE_KEY, **kwargs):
        kwargs["trigger_rule"] = TriggerRule.ALL_DONE
        kwargs.setdefault("retries", 1)
        kwargs.setdefault("execution_timeout", timedelta(minutes=10))
        super().__init__(**kwargs)
        self.checks = checks_by_task(checks)
        self.config_variable = config_variable

    def execute(self, context: Any) -> str:
        from billing_readiness.config import variable_config_or_defaults
        from billing_readiness.config.relaxation import relaxations
        from billing_readiness.core.errors import CheckError
        from billing_readiness.core.results import collect_results
        from billing_readiness.core.run_anchor import from_context
        from billing_readiness.reporting import artifacts, report, report_html

        cfg, problem = variable_config_or_defaults(self.config_variable)
        dag_id, run_id = context["dag"].dag_id, context["run_id"]
        results = report.with_result_files(
            collect_results(context, self.checks), lambda name: artifacts.read(cfg, dag_id, run_id, name)
        )
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
        as_of = from_context(context, clock).at.isoformat()
        run_type = getattr(context["dag_run"].run_type, "value", str(context["dag_run"].run_type))
        record = self._history(doc, cfg, context, as_of, run_type)
        markdown = report.to_markdown(doc, self.checks.values())
        self.log.info("Readiness report for %s\n\n%s", run["run_id"], markdown)
        files = {
            "readiness.json": report.to_json(doc),
            "readiness.md": markdown,
            "readiness.html": report_html.to_html(doc, self.checks.values()),
        }
        try:
            out = artifacts.write(cfg, run["dag_id"], run["run_id"], files)
        except CheckError as exc:
            raise AirflowFailException(f"cannot write the readiness report: {exc}") from None
        self.log.info("Readiness report written to %s", out)
        if record is not None:
            self._keep(record, cfg, dag_id, clock)
        return out

    def _history(self, doc: dict, cfg: dict, context: Any, as_of: str, run_type: str) -> dict | None:
        """Add the history view to the report (doc["history"]) and return this run's record, or None (and say
        why in the report) when the history cannot be read: the report still goes out."""
        from billing_readiness.reporting import history, history_store
        from billing_readiness.reporting.artifacts import report_url
        from billing_readiness.reporting.promotion import decide

        dag_id, run_id = context["dag"].dag_id, context["run_id"]
        checks = list(self.checks.values())
        try:
            previous = history.previous(history_store.load(cfg, dag_id, before=as_of), run_id, as_of)
        except Exception as exc:  # noqa: BLE001 - the store's own errors: the report still goes out
            doc["history_unavailable"] = (
                f"the run history could not be read ({type(exc).__name__}: {exc}; config key 'report.dir')"
            )
            self.log.warning("%s", doc["history_unavailable"])
            return None
        outcome = decide(doc["ready_for_billing"], doc["run"]["relaxed"], run_type, cfg, previous)
        record = history.make_record(
            doc,
            checks,
            run_type=run_type,
            as_of=as_of,
            counts=outcome.counts,
            promoted=outcome.promote,
            report_url=report_url(cfg, dag_id, run_id, config_variable=self.config_variable),
        )
        doc["history"] = history.view([record, *previous], checks, cfg, outcome.burn_in)
        doc["history"]["promotion"] = outcome.refused or outcome.waiting or "promoted"
        return record

    def _keep(self, record: dict, cfg: dict, dag_id: str, clock: dt.datetime) -> None:
        """Write the run's record and prune the old ones; a failure is logged, never the run's verdict (a lost
        record makes the next burn-in longer and the next alert louder, never the other way)."""
        from billing_readiness.reporting import history_store

        try:
            where = history_store.write(cfg, dag_id, record)
            pruned = history_store.prune(cfg, dag_id, clock)
        except Exception as exc:  # noqa: BLE001 - see above
            self.log.error(
                "The run's history record could not be written (%s: %s; config key 'report.dir')",
                type(exc).__name__,
                exc,
            )
            return
        self.log.info(
            "History record written to %s%s",
            where,
            f"; {pruned} older than {cfg['history']['retention_days']} days pruned" if pruned else "",
        )
