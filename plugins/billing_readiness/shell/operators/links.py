"""The "Readiness report" button on the check and report tasks: the run's HTML report (artifacts.report_url:
config report.base_url, or the plugin's view in Airflow). Airflow computes it when the task ends and keeps it
with the task instance; plugin.py registers the class so the API server can show it."""

from __future__ import annotations

from airflow.sdk import BaseOperatorLink


class ReadinessReportLink(BaseOperatorLink):
    name = "Readiness report"

    def get_link(self, operator, *, ti_key) -> str:
        from billing_readiness import VARIABLE_KEY
        from billing_readiness.config import variable_config_or_defaults
        from billing_readiness.reporting.artifacts import report_url

        variable = getattr(operator, "config_variable", VARIABLE_KEY)
        cfg, _ = variable_config_or_defaults(variable)
        return report_url(cfg, ti_key.dag_id, ti_key.run_id, config_variable=variable)
