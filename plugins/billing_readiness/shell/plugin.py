"""The Airflow plugin of billing-readiness (registered by the plugins folder's billing_readiness_plugin.py, or by the
`airflow.plugins` entry point of the installed package): loaded by every Airflow process (API server, scheduler, DAG
processor, workers), so the DAG's "finite" param format is known wherever a run is created, a trigger
over the REST API included (the API server does not parse DAG files).

In the API server it also serves the readiness reports (report_view.py, at /billing-readiness, behind Airflow's
login and DAG access rules): the "Readiness report" tab of every DAG run, the "Readiness history" tab of every
DAG (a run or DAG without readiness reports answers 404 saying so), and the "Readiness report" button of the
check and report tasks."""

from airflow.plugins_manager import AirflowPlugin

from billing_readiness.core.param_formats import register
from billing_readiness.reporting.artifacts import PLUGIN_PREFIX
from billing_readiness.shell.operators.links import ReadinessReportLink

register()


class _ReportApp:
    """`fastapi_apps`, built when the API server asks: FastAPI and Airflow's security module take a second to
    import, which no scheduler, DAG processor or worker should pay."""

    def __get__(self, obj, owner) -> list[dict]:
        from billing_readiness.shell.report_view import app

        return [{"app": app, "url_prefix": PLUGIN_PREFIX, "name": "billing-readiness reports"}]


class BillingReadinessPlugin(AirflowPlugin):
    name = "billing_readiness"
    fastapi_apps = _ReportApp()
    external_views = [
        {
            "name": "Readiness report",
            "href": PLUGIN_PREFIX + "/report/{DAG_ID}/{RUN_ID}",
            "destination": "dag_run",
            "url_route": "readiness-report",
            "category": "billing-readiness",
        },
        {
            "name": "Readiness history",
            "href": PLUGIN_PREFIX + "/history/{DAG_ID}",
            "destination": "dag",
            "url_route": "readiness-history",
            "category": "billing-readiness",
        },
    ]
    operator_extra_links = [ReadinessReportLink()]
