"""Check 1, ClickHouse data accuracy: is every active tenant's usage there, once, and do the rollups agree?

Fails when an active tenant has no usage in the lookback window, when a tenant
has a complete day without usage since its first usage ever (more than
max_missing_days, default 0), when usage_daily or usage_hourly disagree with
usage_events on any day up to now (today and its current hour included) by more
than the events ingested in the last config coverage.ingest_guard_seconds (what
can still be in flight into the materialized views), when ingestion has stalled
(silence far beyond the usual quiet spell at this time of day), when an event
carries a NaN or infinite cost or quantity, or when an event_id appears more than
once (double billing). A day that collapsed against the days around it and the
same weekday is a partial-loss warning (a failure with partial_days_fail); a large
tenant gone silent is a warning (a failure with silent_tenants_fail); negative
costs or quantities, usage from tenants that are not active and events dated in
the future are warnings. It asks in named rounds (passes.py): the first (active
tenants, first usage, future events, the minutes with events and with ingestion),
the repeats pass (per bucket of the id hash, rows minus distinct hashes, sliced to
the memory limit), the scan that compares the events with both rollups inside
ClickHouse (what comes back grows with the tenants, not their days) and collects the
ids of the flagged buckets, then follow-ups only where a pass found something.

    queries.py  the SQL    passes.py  the rounds    verdict.py  the decision    gaps.py  missing and partial days
    reconcile.py  rollups vs raw events   freshness.py  stalled ingest, silent tenants   render.py  the report
    repeats.py  duplicate event ids
"""

from __future__ import annotations

from billing_readiness.checks.contract import ClickHouseCheck, RunContext
from billing_readiness.checks.usage_coverage.settings import Coverage
from billing_readiness.core.money import CENT
from billing_readiness.core.params import LOOKBACK_DAYS, ParamSpec


class UsageCoverage(ClickHouseCheck):
    """Check 1, ClickHouse data accuracy. Fails when an active tenant has no usage in the window, has a day
    without usage since its first usage (beyond max_missing_days), has duplicate event ids, the rollups
    disagree with raw events up to now (beyond what is still in flight), ingestion has stalled, or events
    carry a NaN or infinite cost or quantity. Failure means wrong or missing invoice lines."""

    id = "usage_coverage"
    title = "Check 1: ClickHouse data accuracy"
    impact = "Billing mismatches: wrong or missing invoice lines."
    config_sections = {"coverage": Coverage}
    asks = (
        "every active tenant has usage on every day since its first usage; the rollups agree with the raw "
        "events up to now; ingestion is live; costs are finite; no duplicate event ids"
    )
    figure = ("tenants with failing findings", "fail_tenants")
    key_metrics = ("active_tenants", "events_in_window", "orphan_tenants")
    reads = ("usage_events", "usage_hourly", "usage_daily", "tenant_quotas")
    params = {
        "lookback_days": LOOKBACK_DAYS,
        "max_missing_days": ParamSpec(
            0,
            "integer",
            "Missing days allowed per tenant",
            "Complete days without usage (since the tenant's first usage) a tenant may have before check 1 "
            "fails. 0: usage every day. Raise it only where quiet days are normal for some tenants.",
            loosens="higher",
            schema={"minimum": 0, "maximum": 366},
        ),
        "partial_days_fail": ParamSpec(
            False,
            "boolean",
            "Partial-loss days fail",
            "A day with under 10% (config coverage.partial_day_ratio) of both the days around it and the same "
            "weekday is a warning in the report; with this on, it fails check 1.",
        ),
        "silent_tenants_fail": ParamSpec(
            False,
            "boolean",
            "Silent large tenants fail",
            "A tenant silent for hours (config coverage.tenant_silence_seconds) that usually sends many events at "
            "this time of day is a warning in the report; with this on, it fails check 1.",
        ),
        "reconciliation_tolerance_usd": ParamSpec(
            float(CENT),
            "number",
            "Rollup tolerance (USD, at most 0.10)",
            "Largest cost difference per tenant and day between usage_events and the rollups. Cents, not dollars: "
            "float summation error is far below a cent, so more hides real drift.",
            loosens="higher",
            schema={"minimum": 0, "maximum": 0.1},
        ),
    }

    def queries(self, ctx: RunContext) -> dict:
        from billing_readiness.checks.usage_coverage.queries import queries

        return queries(ctx.cfg, ctx.window(ctx.params["lookback_days"]))

    def passes(self) -> tuple:
        """The rounds after the first, named, each run once (passes.py)."""
        from billing_readiness.checks.usage_coverage.passes import PASSES

        return PASSES

    def evaluate(self, result, rows: dict, ctx: RunContext) -> None:
        from decimal import Decimal

        from billing_readiness.checks.usage_coverage.passes import window
        from billing_readiness.checks.usage_coverage.verdict import evaluate
        from billing_readiness.core.sql import rollup_zone

        zone, source = rollup_zone(rows.get("zone", []), ctx.cfg)
        result.metrics["days_timezone"] = f"{zone} ({source})"
        evaluate(
            result,
            rows,
            ctx.cfg,
            window(ctx, rows),
            max_missing_days=int(ctx.params["max_missing_days"] or 0),
            tolerance_usd=Decimal(str(ctx.params["reconciliation_tolerance_usd"])),
            partial_days_fail=bool(ctx.params.get("partial_days_fail")),
            silent_tenants_fail=bool(ctx.params.get("silent_tenants_fail")),
        )
        cov = result.details.coverage if result.details else None
        if cov and cov.tenants:  # the whole matrix beside the report (its heat map shows a part at scale)
            from billing_readiness.checks.usage_coverage.render import coverage_csv
            from billing_readiness.core.results import Artifact

            result.details.coverage_csv = f"coverage-{cov.days[0]}_{cov.today}.csv"
            result.artifacts.append(Artifact(result.details.coverage_csv, coverage_csv(cov)))

    def html(self, result) -> str:
        """The heat map, with the tenants any finding names among its rows."""
        from billing_readiness.checks.usage_coverage.render import html

        flagged = {f.evidence.get("tenant") for f in result.findings if f.severity != "info"} - {None}
        return html(result.details, flagged)

    def parts(self):
        from billing_readiness.checks.usage_coverage import render, verdict

        return verdict.Details, render


CHECK = UsageCoverage()
