"""A fifth, trivial readiness check that lives in the tests only: it proves that a check is one module
(this one) plus its import and one line in a DAG file (build(checks=[*CHECKS, it])), and then shows up in the gate, the
report and the alerts.

Check 5: every active tenant's plan has a positive daily query limit in tenant_quotas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from billing_readiness.checks.contract import ClickHouseCheck, RunContext
from billing_readiness.core.results import FAIL, CheckResult
from billing_readiness.core.sql import Query


@dataclass
class Details:
    tenants_checked: int = 0
    without_limit: list[str] = field(default_factory=list)


class PlanLimits(ClickHouseCheck):
    """Check 5 (tests only): every tenant's plan has a positive queries_per_day limit."""

    id = "plan_limits"
    title = "Check 5: Plan limits"
    impact = "Tenants without a limit can run up usage nobody agreed to pay for."
    asks = "every active tenant has a positive limit for each quota type it uses"

    def parts(self):
        return Details, None  # its rendering is its own markdown() and html() below

    def queries(self, ctx: RunContext) -> dict[str, Query]:
        tq = ctx.cfg["tenant_quotas"]
        return {
            "limits": Query(
                "daily query limit per tenant (tenant_quotas)",
                f"SELECT {tq['tenant_id']} AS tenant_id, max(quota_limit) AS queries_per_day FROM {tq['table']} FINAL "
                f"WHERE quota_type = 'queries_per_day' GROUP BY tenant_id ORDER BY tenant_id",
                columns=("tenant_id", "queries_per_day"),
            )
        }

    def evaluate(self, result: CheckResult, rows: dict, ctx: RunContext) -> None:
        result.details = Details(
            len(rows["limits"]), [r["tenant_id"] for r in rows["limits"] if r["queries_per_day"] <= 0]
        )
        if not rows["limits"]:
            result.add(FAIL, "no_plans", "No tenant has a queries_per_day plan: nothing to check.")
        for tenant in result.details.without_limit:
            result.add(FAIL, "no_limit", f"Tenant '{tenant}' has no positive queries_per_day limit.", tenant=tenant)

    def markdown(self, result: CheckResult) -> list[str]:
        return ["", f"Plan limits checked for {result.details.tenants_checked} tenant(s)."] if result.details else []

    def html(self, result: CheckResult) -> str:
        d = result.details
        return (
            f"<p>Plan limits checked for {d.tenants_checked} tenant(s): {escape(', '.join(d.without_limit))}</p>"
            if d
            else ""
        )


CHECK = PlanLimits()
