"""The readiness checks, one package each; the decisions live here, not in Airflow.

    check 1  usage_coverage        ClickHouse data accuracy
    check 2  invoice_immutability  immutable cost storage
    check 3  dashboard_latency     dashboard performance
    check 4  quota_enforcement     quota enforcement

Each keeps the contract in `contract.py`; CHECKS lists them (billing_readiness.dag.CHECKS is this list), and the
operators, the gate, the report and the alerts know them only through it.
"""

from billing_readiness.checks import dashboard_latency, invoice_immutability, quota_enforcement, usage_coverage

CHECKS = [
    usage_coverage.CHECK,  # check 1: ClickHouse data accuracy
    invoice_immutability.CHECK,  # check 2: immutable cost storage
    dashboard_latency.CHECK,  # check 3: dashboard performance
    quota_enforcement.CHECK,  # check 4: quota enforcement
]
