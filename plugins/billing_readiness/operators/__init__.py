"""The Airflow shell: the check operator (any check), the promotion gate and the report task."""
from billing_readiness.operators.check import ReadinessCheckOperator
from billing_readiness.operators.gate import PromotionGateOperator
from billing_readiness.operators.report import ReadinessReportOperator

__all__ = ["ReadinessCheckOperator", "PromotionGateOperator", "ReadinessReportOperator"]
