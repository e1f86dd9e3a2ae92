"""The Airflow plugin of billing-readiness (registered by the plugins folder's billing_readiness_plugin.py, or by the
`airflow.plugins` entry point of the installed package): loaded by every Airflow process (API server, scheduler, DAG
processor, workers), so the DAG's "finite" param format is known wherever a run is created, a trigger
over the REST API included (the API server does not parse DAG files)."""
from airflow.plugins_manager import AirflowPlugin

from billing_readiness.param_formats import register

register()


class BillingReadinessPlugin(AirflowPlugin):
    name = "billing_readiness"
