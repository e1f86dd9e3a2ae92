"""The readiness checks, one package each; the decisions live here, not in Airflow.

    check 1  usage_coverage        ClickHouse data accuracy
    check 2  invoice_immutability  immutable cost storage
    check 3  dashboard_latency     dashboard performance
    check 4  quota_enforcement     quota enforcement

Each keeps the contract in `contract.py`; billing_readiness.dag.CHECKS lists them, and the
operators, the gate, the report and the alerts know them only through it.
"""
