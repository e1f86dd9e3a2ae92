"""Print the path of the example DAG file, for `cp "$(python -m billing_readiness.example_dags)"
$AIRFLOW_HOME/dags/`."""

from pathlib import Path

print(Path(__file__).with_name("billing_readiness_dag.py"))
