"""The billing-readiness Airflow DAG (dag_id billing_readiness): is M12.1 usage metering ready for automated
billing (M12.2)? The package builds it (billing_readiness.dag: its checks, tasks, params and docs); copy this
file into any DAGs folder of an Airflow where `billing-readiness` is installed.
"""

from billing_readiness.dag import build

dag = build()
