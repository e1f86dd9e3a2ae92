"""The DAG's operators: one per check, the promotion gate and the report."""
from billing_readiness.operators.checks import (
    DashboardLatencyCheckOperator,
    InvoiceImmutabilityCheckOperator,
    QuotaEnforcementCheckOperator,
    UsageCoverageCheckOperator,
)
from billing_readiness.operators.gate import PromotionGateOperator
from billing_readiness.operators.report import ReadinessReportOperator

__all__ = [
    "UsageCoverageCheckOperator",
    "InvoiceImmutabilityCheckOperator",
    "DashboardLatencyCheckOperator",
    "QuotaEnforcementCheckOperator",
    "PromotionGateOperator",
    "ReadinessReportOperator",
]
