"""Check 1, ClickHouse data accuracy: is every active tenant's usage there, once, and do the rollups agree?

Fails when an active tenant has no usage in the lookback window, when a tenant
has a complete day without usage since its first usage ever (more than
max_missing_days, default 0), when usage_daily or usage_hourly disagree with
usage_events for a complete day, or when an event_id appears more than once
(double billing). A day far below the tenant's median day is a partial-loss
warning (a failure with partial_days_fail). Usage from tenants that are not
active, and events dated in the future, are warnings. Four queries whatever the
number of tenants (the rollups are compared with the events inside ClickHouse, so
what comes back grows with the tenants, not their days), then the repeated id
hashes (sliced to the memory limit) and, only if some repeat, the ids behind them.

    queries.py  the SQL          verdict.py  the decision     gaps.py  missing and partial days
    reconcile.py  rollups vs raw events                       render.py  its part of the report
"""
from __future__ import annotations

from billing_readiness.checks.contract import ClickHouseCheck, RunContext, lazy, lazy_exports


class UsageCoverage(ClickHouseCheck):
    """Check 1, ClickHouse data accuracy. Fails when an active tenant has no usage in the window, has a day
    without usage since its first usage (beyond max_missing_days), has duplicate event ids, or the rollups
    disagree with raw events. Failure means wrong or missing invoice lines."""

    id = "usage_coverage"
    title = "Check 1: ClickHouse data accuracy"
    impact = "Billing mismatches: wrong or missing invoice lines."
    params = ("lookback_days", "max_missing_days", "partial_days_fail", "reconciliation_tolerance_usd")
    relaxing = {"lookback_days": ("lower", 30), "max_missing_days": ("higher", 0),
                "reconciliation_tolerance_usd": ("higher", 0.01)}

    def queries(self, ctx: RunContext) -> dict:
        from billing_readiness.checks.usage_coverage.queries import queries
        from billing_readiness.timewindow import Window

        return queries(ctx.cfg, Window(ctx.now, int(ctx.params["lookback_days"])),
                       float(ctx.params["reconciliation_tolerance_usd"]))

    def follow_up(self, ctx: RunContext, rows: dict) -> dict:
        """Duplicate ids in two steps: the repeated id hashes (in as many slices as the memory limit needs,
        sized by the window's events), then, only if there are some, the ids behind them."""
        from billing_readiness.checks.usage_coverage.queries import duplicate_candidates, duplicates, hash_partitions
        from billing_readiness.timewindow import Window

        window = Window(ctx.now, int(ctx.params["lookback_days"]))
        slices = sorted(k for k in rows if k.startswith("duplicate_candidates"))
        if not slices:
            events = sum(int(n) for r in rows["tenants"] for _, n in r["day_events"])
            parts = hash_partitions(ctx.cfg, events)
            return {f"duplicate_candidates_{k}": duplicate_candidates(ctx.cfg, window, k, parts) for k in range(parts)}
        query = duplicates(ctx.cfg, window, [r for k in slices for r in rows[k]])
        return {"duplicates": query} if query else {}

    def evaluate(self, result, rows: dict, ctx: RunContext) -> None:
        from decimal import Decimal

        from billing_readiness.checks.usage_coverage.verdict import evaluate
        from billing_readiness.timewindow import Window

        evaluate(result, rows, ctx.cfg, Window(ctx.now, int(ctx.params["lookback_days"])),
                 max_missing_days=int(ctx.params["max_missing_days"] or 0),
                 tolerance_usd=Decimal(str(ctx.params["reconciliation_tolerance_usd"])),
                 partial_days_fail=bool(ctx.params.get("partial_days_fail")))

    Details = lazy("billing_readiness.checks.usage_coverage.verdict:Details")
    renderer = lazy("billing_readiness.checks.usage_coverage.render")


CHECK = UsageCoverage()
__getattr__ = lazy_exports(__name__, {"Details": ".verdict:Details", "evaluate": ".verdict:evaluate",
                                      "queries": ".queries:queries", "render": ".render"})
