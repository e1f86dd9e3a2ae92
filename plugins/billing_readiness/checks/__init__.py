"""The four readiness checks, one module each; the decisions live here, not in Airflow.

    check 1  usage_coverage        ClickHouse data accuracy
    check 2  invoice_immutability  immutable cost storage
    check 3  dashboard_latency     dashboard performance
    check 4  quota_enforcement     quota enforcement
"""

# check id -> (title, what a failure means for billing; shared/M12_1_SYSTEM.md)
CHECKS = {
    "usage_coverage": (
        "Check 1: ClickHouse data accuracy",
        "Billing mismatches: wrong or missing invoice lines.",
    ),
    "invoice_immutability": (
        "Check 2: Immutable cost storage",
        "Billing disputes when prices change: a regenerated invoice would not match what was sent.",
    ),
    "dashboard_latency": (
        "Check 3: Dashboard performance",
        "Customers cannot verify invoices; payments are delayed.",
    ),
    "quota_enforcement": (
        "Check 4: Quota enforcement",
        "Runaway usage that nobody will pay for.",
    ),
}
