"""The Airflow shell: the check operator (any check), the promotion gate and the report task."""

from billing_readiness.shell.operators.check import ReadinessCheckOperator, after_the_others
from billing_readiness.shell.operators.gate import PromotionGateOperator
from billing_readiness.shell.operators.report import ReadinessReportOperator

__all__ = ["PromotionGateOperator", "ReadinessCheckOperator", "ReadinessReportOperator", "after_the_others"]
