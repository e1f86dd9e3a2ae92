"""The one check operator: runs any readiness check (checks/contract.py) and hands its result over.

It fetches nothing itself: the check's `run` does, through the services factory.
A failed check raises AirflowFailException (no retry: the data will not change by
retrying); only a transient error (errors.is_transient: a service unreachable)
propagates for the task's retries. Whatever happens a result is pushed first, so
the gate, the report and the alert can say why.
"""

from __future__ import annotations

import datetime as dt
import itertools
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, TriggerRule
from airflow.sdk.exceptions import AirflowFailException

from billing_readiness import VARIABLE_KEY
from billing_readiness.checks.contract import Check
from billing_readiness.core.errors import CheckError
from billing_readiness.shell.operators.links import ReadinessReportLink

if TYPE_CHECKING:
    from billing_readiness.checks.contract import RunContext
    from billing_readiness.core.results import CheckResult
    from billing_readiness.core.run_anchor import Anchor


LOGGED_FINDINGS = 200  # findings written to the task log one by one; all of them are in the result file


class ReadinessCheckOperator(BaseOperator):
    ui_color = "#e8f1fb"
    operator_extra_links = (ReadinessReportLink(),)

    def __init__(self, *, check: Check, config_variable: str = VARIABLE_KEY, services_factory=None, **kwargs):
        kwargs.setdefault("task_id", check.task_id)
        kwargs.setdefault("doc_md", check.doc_md)
        kwargs.setdefault("retries", 2)
        kwargs.setdefault("retry_delay", timedelta(seconds=30))
        kwargs.setdefault("execution_timeout", timedelta(minutes=20))
        if check.runs_last:  # it runs after the other checks, whatever their outcome (see after_the_others)
            kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(**kwargs)
        self.check = check
        self.config_variable = config_variable
        self.services_factory = services_factory  # None: operators/services.py AirflowServices (imported when run)

    def execute(self, context: Any) -> None:
        from billing_readiness.checks.contract import RunContext
        from billing_readiness.core.errors import error_text, is_transient
        from billing_readiness.core.results import FAIL
        from billing_readiness.core.run_anchor import from_context

        ti = context["ti"]
        clock = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        anchor = from_context(context, clock)
        now = anchor.at
        if self.services_factory is None:
            from billing_readiness.shell.operators.services import AirflowServices

            self.services_factory = AirflowServices
        services = self.services_factory()
        cfg = None
        try:
            self._refuse_unknown_conf(context)
            cfg = services.config(self.config_variable)
            ctx = RunContext(
                cfg,
                dict(context["params"]),
                now,
                context["run_id"],
                context["dag"].dag_id,
                self.log,
                task_id=self.task_id,
                try_number=int(ti.try_number or 1),
                clock=clock,
            )
            self.log.info("Checking as of %s", anchor.describe())
            result = self.check.run(services, ctx)
            self._note_guards(result, services)
            self._write_files_and_baseline(result, cfg, ctx, services)
        except Exception as exc:
            transient = is_transient(exc)
            will_retry = transient and ti.try_number <= (self.retries or 0)
            result = self.check.new_result()
            result.add(
                FAIL, "check_error", error_text(exc) + (" (transient: the task will retry)" if will_retry else "")
            )
            self._push_result(context, result, clock, anchor, cfg)
            if transient:
                raise
            raise AirflowFailException(error_text(exc)) from None
        self._push_result(context, result, clock, anchor, cfg)
        if not result.passed:
            raise AirflowFailException(result.summary())

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (where its provider is installed): the tables read, with the verdict as assertions."""
        return _lineage(self)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return _lineage(self)

    @staticmethod
    def _note_guards(result: CheckResult, services) -> None:
        """Which server-side guards the ClickHouse profile did not apply (readonly=1 forbids per-query settings),
        and what holds instead: said in the result, never a warning (it is a common, safe DBA profile)."""
        from billing_readiness.core.results import INFO

        guards = services.clickhouse_guards() if hasattr(services, "clickhouse_guards") else []
        if guards:
            result.metrics["clickhouse_guards_not_applied"] = guards
            result.add(
                INFO,
                "server_guards_unavailable",
                "The ClickHouse user's profile does not apply the checks' per-query settings: "
                + "; ".join(guards)
                + ".",
                guards=guards,
            )

    @staticmethod
    def _refuse_unknown_conf(context: Any) -> None:
        """A run's conf may only set the DAG's params: a misspelt one would silently be ignored."""
        dag_run = context.get("dag_run")
        conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
        declared = set(context["dag"].params)  # context["params"] also holds whatever the conf added
        unknown = sorted(set(conf) - declared)
        if unknown:
            raise CheckError(
                f"unknown param(s) in the run's conf: {', '.join(unknown)} "
                f"(the params are: {', '.join(sorted(declared))})"
            )

    def _write_files_and_baseline(self, result: CheckResult, cfg: dict, ctx: RunContext, services) -> None:
        """Write the result's files beside the report and record its baseline (Airflow metadata DB only)."""
        if result.artifacts:
            from billing_readiness.reporting import artifacts

            out = artifacts.write(cfg, ctx.dag_id, ctx.run_id, {a.filename: a.text for a in result.artifacts})
            self.log.info("Wrote %s to %s", ", ".join(a.filename for a in result.artifacts), out)
        if result.record is not None and result.passed:
            services.record(result.record.key, result.record.value, result.record.description)
            self.log.info("Recorded baseline %s", result.record.key)

    def _push_result(
        self, context: Any, result: CheckResult, clock: dt.datetime, anchor: Anchor, cfg: dict | None
    ) -> None:
        """The whole result goes to the run's folder (results.result_file), XCom gets its bounded hand-over
        (results.handover: the verdict, the summary, the metrics and the findings that fit in 64 KB)."""
        import json

        from billing_readiness.core.results import (
            RESULT_XCOM_KEY,
            Severity,
            handover,
            result_file,
        )

        result.metrics.setdefault("checked_at", clock.isoformat())
        result.metrics.setdefault("as_of", anchor.at.isoformat())
        result.metrics.setdefault("as_of_source", anchor.source)
        full, file = result.to_dict(), None
        if cfg is not None:
            from billing_readiness.reporting import artifacts

            try:
                name = result_file(self.task_id)
                artifacts.write(cfg, context["dag"].dag_id, context["run_id"], {name: json.dumps(full, default=str)})
                file = name
            except Exception as exc:  # noqa: BLE001 - the verdict still goes out by XCom, with what fits
                self.log.warning("Could not write the whole result beside the report (%s); XCom carries what fits", exc)
        context["ti"].xcom_push(key=RESULT_XCOM_KEY, value=handover(full, file))
        self._signalled = (full, cfg)  # for OpenLineage, which asks once the task has ended
        from billing_readiness.shell.signals import send_metrics

        send_metrics(context["dag"].dag_id, self.check, full)
        self.log.info("%s", result.summary())
        for f in result.findings[:LOGGED_FINDINGS]:
            self.log.log(Severity(f.severity).log_level, "[%s] %s", f.code, f.message)
        if len(result.findings) > LOGGED_FINDINGS:
            self.log.info(
                "... and %d more findings in %s", len(result.findings) - LOGGED_FINDINGS, file or "the report"
            )


def _lineage(operator: ReadinessCheckOperator) -> Any:
    """The check's OpenLineage facets (signals.lineage), for the OpenLineage provider where it is installed."""
    from billing_readiness.shell.signals import lineage

    full, cfg = getattr(operator, "_signalled", (None, None))
    conn = None
    if cfg is not None and operator.check.reads:
        try:
            from billing_readiness.shell.hooks.connections import get_connection

            conn = get_connection(cfg["connections"]["clickhouse"], "clickhouse_native", "lineage")
        except Exception:  # noqa: BLE001 - lineage names the namespace as unknown rather than fail
            conn = None
    return lineage(operator.check, full, cfg, conn)


def after_the_others(checks: list[ReadinessCheckOperator]) -> None:
    """Make every check that runs last (it measures time) downstream of all the others: under a real
    scheduler the checks run in parallel, and a timing taken while checks 1 and 2 scan a month of events
    would measure the gate's own load. The fan-in to the gate is unchanged."""
    alone = [t for t in checks if t.check.runs_last]
    others = [t for t in checks if not t.check.runs_last]
    for task in alone:
        others >> task
    for first, second in itertools.pairwise(alone):
        first >> second


def checks_by_task(tasks: list) -> dict[str, Check]:
    """task id -> the check it runs, for the check operators the gate or the report follows."""
    return {task.task_id: task.check for task in tasks}
