"""The readiness checks, one package each; the decisions live here, not in Airflow.

    check 1  usage_coverage        ClickHouse data accuracy
    check 2  invoice_immutability  immutable cost storage
    check 3  dashboard_latency     dashboard performance
    check 4  quota_enforcement     quota enforcement

Each keeps the contract in `contract.py`; CHECKS lists them (billing_readiness.dag.CHECKS is this list), and the
operators, the gate, the report and the alerts know them only through it.
"""

import importlib

# The checks, in order: a package of this folder each. A fifth check is its package and a line here.
PACKAGES = [
    "usage_coverage",  # check 1: ClickHouse data accuracy
    "invoice_immutability",  # check 2: immutable cost storage
    "dashboard_latency",  # check 3: dashboard performance
    "quota_enforcement",  # check 4: quota enforcement
]
CHECKS = [importlib.import_module(f"{__name__}.{name}").CHECK for name in PACKAGES]
