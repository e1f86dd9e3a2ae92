"""Example DAG files shipped in the wheel: copy billing_readiness_dag.py into a DAGs folder (`python -m
billing_readiness.example_dags` prints where it is). dags/billing_readiness_dag.py in the repository is the same
file (a test holds them equal)."""
