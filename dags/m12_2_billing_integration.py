"""
### m12_2_billing_integration (example)

Scheduled on the Asset `m12_1_ready_for_billing`, which `billing_readiness`
updates only when every readiness check passed. This example only reads
and logs the readiness summary it was handed; a real M12.2 DAG would start
invoice generation here.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from billing_readiness.shell.assets import M12_1_READY_FOR_BILLING


def read_readiness_summary(**context) -> dict:
    """Reads the readiness summary from the triggering Asset event and logs it. Writes nothing."""
    events = [e for evs in context["triggering_asset_events"].values() for e in evs]
    if not events:
        raise ValueError("no triggering Asset event: this DAG runs only when M12.1 is promoted")
    summary = events[-1].extra or {}
    if summary.get("ready_for_billing") is not True:
        raise ValueError(f"the triggering event does not say M12.1 is ready: {summary}")
    for check, verdict in summary.get("checks", {}).items():
        print(f"{check}: {verdict.get('summary')}")
    return {"readiness_run_id": summary.get("run_id"), "checks": sorted(summary.get("checks", {}))}


with DAG(
    dag_id="m12_2_billing_integration",
    description="Example M12.2 consumer: runs when M12.1 is promoted (Asset m12_1_ready_for_billing).",
    doc_md=__doc__,
    schedule=[M12_1_READY_FOR_BILLING],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["billing", "m12"],
) as dag:
    # PythonOperator rather than @task: its import is visible to the DAG processor, which pre-imports it
    # before timing the parse ([dag_processor] parsing_pre_import_modules); @task imports it while parsing.
    PythonOperator(
        task_id="read_readiness_summary", python_callable=read_readiness_summary, doc_md=read_readiness_summary.__doc__
    )
