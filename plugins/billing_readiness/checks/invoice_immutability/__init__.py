"""Check 2, immutable cost storage: does a closed month's invoice come out the same, every time?

The invoice for tenant T and month M is the sum of T's stored cost_usd in M (UTC,
half-open), rounded to cents once. It is generated from usage_events (summed as
integer nano-dollars, so the sum does not depend on the order rows are read) and
from usage_daily; both must agree within the tolerance. Already on its first run
it fails on rows ingested after the month closed (counted in the same scan) and on
mutations of the billing tables since the month began. The first
run that finds nothing records the totals as the baseline (an Airflow Variable);
every later run must reproduce them.

    queries.py  the SQL     verdict.py  the decision     closed_month.py  late arrivals, mutations
    render.py  its part of the report
"""

from __future__ import annotations

import hashlib
import json

from billing_readiness.checks.contract import Check, RunContext, Services
from billing_readiness.checks.invoice_immutability.settings import Invoice
from billing_readiness.core.errors import CheckError
from billing_readiness.core.money import CENT
from billing_readiness.core.params import ParamSpec

BASELINE_PREFIX = "billing_readiness_invoice_baseline"


def billing_month(param: str | None, now, tz: str = "UTC"):
    """The month to regenerate: the param (a closed month) or the last closed month of the billing zone."""
    from billing_readiness.core.timewindow import Month, last_closed_month, local_text

    if not param:
        return last_closed_month(now, tz)
    try:
        month = Month.parse(param, tz)
    except ValueError as exc:
        raise CheckError(f"param 'billing_month': {exc}") from None
    if not month.is_closed(now):
        raise CheckError(
            f"param 'billing_month' is {month}, which is not closed yet (it ends {local_text(month.end, tz)}): "
            "pick a past month, or leave it empty for the last closed month."
        )
    return month


def baseline_key(source: str, cfg: dict, month, dag_id: str = "billing_readiness") -> str:
    """One baseline per billed system (connection id, database, events table, invoice query), month and DAG
    (a staging DAG built from the same install keeps its own).

    The connection id, not the host: a failover to another replica is the same billing data."""
    billed = {k: v for k, v in cfg["usage_events"].items() if k != "ingested_at"}  # what the totals are made of
    zone = cfg["invoice"]["billing_timezone"]  # another zone's month is another invoice (UTC keeps its old keys)
    scope = json.dumps([source, billed, cfg["invoice"]["sql"]] + ([zone] if zone != "UTC" else []), sort_keys=True)
    digest = hashlib.sha256(scope.encode()).hexdigest()[:12]
    return (
        f"{BASELINE_PREFIX}.{digest}.{month}"
        if dag_id == "billing_readiness"
        else f"{BASELINE_PREFIX}.{dag_id}.{digest}.{month}"
    )


class InvoiceImmutability(Check):
    """Check 2, immutable cost storage. Regenerates the closed month's invoices from raw events
    and from usage_daily, and against the totals first recorded for that month. Writes
    the invoice CSV. Failure means billing disputes when prices change."""

    id = "invoice_immutability"
    title = "Check 2: Immutable cost storage"
    impact = "Billing disputes when prices change: a regenerated invoice would not match what was sent."
    config_sections = {"invoice": Invoice}
    asks = (
        "nothing ingested into or mutated in the last closed month after the fact; its invoice regenerates to"
        " the same totals (±$0.01), now and in every later run"
    )
    figure = ("invoice discrepancies", "fail_findings")
    key_metrics = ("active_tenants", "tenants_with_usage", "total_billed_usd")
    reads = ("usage_events", "usage_daily", "tenant_quotas")
    params = {
        "billing_month": ParamSpec(  # a month picked by hand is checked instead of the last closed month
            None,
            ("null", "string"),
            "Billing month (YYYY-MM)",
            "Closed month whose invoices check 2 regenerates. Empty: the last closed UTC month. Another month "
            "leaves the last closed month unchecked.",
            loosens="set",
            schema={"pattern": r"^\d{4}-(0[1-9]|1[0-2])$"},
        ),
        "invoice_tolerance_usd": ParamSpec(
            float(CENT),
            "number",
            "Invoice tolerance (USD, at most 0.10)",
            "Largest per-tenant difference between two generations of the same invoice (the spec: +-$0.01). "
            "Cents, not dollars: a re-priced small tenant differs by cents.",
            loosens="higher",
            schema={"minimum": 0, "maximum": 0.1},
        ),
    }
    relaxing_config = {"invoice.late_arrival_grace_seconds": "higher"}

    def run(self, services: Services, ctx: RunContext):
        from decimal import Decimal

        from billing_readiness.checks.invoice_immutability import baseline as baselines
        from billing_readiness.checks.invoice_immutability.invoice import baseline_lines, invoice_csv
        from billing_readiness.checks.invoice_immutability.verdict import Details, evaluate
        from billing_readiness.core.results import Artifact

        month = billing_month(ctx.params.get("billing_month"), ctx.now, ctx.cfg["invoice"]["billing_timezone"])
        clickhouse = services.clickhouse(ctx.cfg)
        zone, qs, rows = self._read(clickhouse, ctx, month)
        key = baseline_key(clickhouse.source_id(), ctx.cfg, month, ctx.dag_id)
        baseline = baselines.validated(key, services.baseline(key))
        result = self.new_result()
        result.show_queries(qs)
        evaluate(
            result,
            rows,
            month,
            Decimal(str(ctx.params["invoice_tolerance_usd"])),
            baseline,
            late_arrival_grace_s=int(ctx.cfg["invoice"]["late_arrival_grace_seconds"]),
            accepted_mutations=ctx.cfg["invoice"]["accepted_mutations"],
            cluster=ctx.cfg["clickhouse"]["cluster"],
            negative=ctx.cfg["cost_values"]["negative"],
            ingestion_column=bool(ctx.cfg["usage_events"]["ingested_at"]),
        )
        result.metrics["clickhouse_queries"] = clickhouse.queries_sent
        result.metrics["billing_timezone"] = month.tz
        result.metrics["rollup_timezone"] = zone
        details: Details = result.details
        details.baseline_variable = key
        lines_now = baseline_lines(details.invoice_lines)
        digest_now = baselines.digest(lines_now) if baseline is None else ""
        if baseline is not None:
            self._held_to(result, key, baseline)
        else:
            self._missing_baseline(result, services, key, month, digest_now, ctx.dag_id)
        details.invoice_csv = f"invoices-{month}.csv"
        result.artifacts.append(Artifact(details.invoice_csv, invoice_csv(details.invoice_lines)))
        if baseline is None and result.passed:
            self._record_baseline(result, ctx, month, key, lines_now, digest_now, clickhouse.describe())
        elif not ctx.cfg["usage_events"]["ingested_at"]:
            result.metrics["not_verified"] = [_late_arrivals_unchecked(month)]
        return result

    @staticmethod
    def _read(clickhouse, ctx: RunContext, month):
        """The month's rows: the invoice queries, and the cost values of flagged tenants (their days and
        first event ids) only where the totals flagged some. Returns (rollup zone as reported, queries, rows)."""
        from billing_readiness.checks.invoice_immutability.queries import queries
        from billing_readiness.core import cost_values
        from billing_readiness.core.sql import rollup_zone, zone_query
        from billing_readiness.core.timewindow import epoch

        zone, zone_source = rollup_zone(clickhouse.run(zone_query(ctx.cfg)), ctx.cfg)
        qs = queries(ctx.cfg, month, zone)
        if ctx.cfg["invoice"]["sql"]:  # a configured invoice query counts no values: the cost-values query does
            qs["values"] = cost_values.query(ctx.cfg, epoch(month.start), epoch(month.end), f"closed month {month}")
        rows = clickhouse.run_all(qs)
        flagged = [] if "values" in rows else cost_values.flagged(rows["raw"], "tenant_id")
        if flagged:  # only then: their days and first event ids
            qs["values"] = cost_values.query(
                ctx.cfg, epoch(month.start), epoch(month.end), f"closed month {month}", flagged
            )
            rows.update(clickhouse.run_all({"values": qs["values"]}))
        return f"{zone} ({zone_source})", qs, rows

    @staticmethod
    def _held_to(result, key: str, baseline) -> None:
        """Say which baseline the month was compared with; fail when the Variable was edited outside the DAG."""
        from billing_readiness.checks.invoice_immutability import baseline as baselines
        from billing_readiness.core.results import FAIL

        held = baselines.provenance(baseline)
        result.metrics["baseline"] = {"variable": key, **held}
        result.details.baseline = f"compared with the baseline {baselines.describe(held)}"
        if baselines.altered(held):
            result.add(
                FAIL,
                "baseline_altered",
                f"The baseline Variable '{key}' was edited outside the DAG: it was recorded with digest "
                f"{held['digest']} and its lines now give {held['digest_now']}. Restore it from the "
                "Variable's history or a backup; a baseline that can be edited holds the month to nothing.",
                variable=key,
                **held,
            )

    @staticmethod
    def _record_baseline(
        result, ctx: RunContext, month, key: str, lines_now: dict, digest_now: str, source: str
    ) -> None:
        """A passing first run records the month's totals as the baseline, unless they are not final yet: no
        ingestion-time column to look for late arrivals, or the month closed less than the grace ago."""
        from billing_readiness.core.results import BaselineRecord
        from billing_readiness.core.timewindow import utc_text

        details = result.details
        settled = month.end.timestamp() + int(ctx.cfg["invoice"]["late_arrival_grace_seconds"])
        if not ctx.cfg["usage_events"]["ingested_at"]:
            # A first run that could not look for late arrivals has not verified the month: its totals
            # may already hold a backfill, and must not become what later runs are held to.
            unverified = _late_arrivals_unchecked(month)
            result.metrics["not_verified"] = [unverified]
            details.baseline = f"not recorded: {unverified}, so {month} is not verified and its totals are no baseline"
            result.findings = [f for f in result.findings if f.code != "baseline_recorded"]
        elif ctx.now.timestamp() < settled:
            # Rows of the month's last seconds may still be on their way (normal lag): its totals are not final.
            details.baseline = (
                f"not recorded yet: {month} closed {ctx.now - month.end} ago and rows may still "
                "arrive within config invoice.late_arrival_grace_seconds; a run after "
                f"{utc_text(settled, seconds=False)} records it"
            )
            result.findings = [f for f in result.findings if f.code != "baseline_recorded"]
        else:
            recorded = {"run_id": ctx.run_id, "recorded_at": ctx.now.isoformat(), "digest": digest_now}
            result.record = BaselineRecord(
                key,
                {"month": str(month), "source": source, **recorded, "lines": lines_now},
                f"billing-readiness: invoice totals of {month} as first seen; later runs must match",
            )
            result.metrics["baseline"] = {"variable": key, **recorded, "digest_now": recorded["digest"]}
            details.baseline = f"recorded by this run, digest {recorded['digest']}"

    def _missing_baseline(
        self, result, services: Services, key: str, month, digest_now: str, dag_id: str = "billing_readiness"
    ) -> None:
        """No baseline: the first run to see the month, unless the last promotion held one (it was deleted,
        or cannot be decrypted any more): then a human must know, and whether the totals still match it."""
        from billing_readiness.checks.invoice_immutability import baseline as baselines
        from billing_readiness.core.results import WARN

        held = baselines.held_at_last_promotion(services.last_promotion(dag_id), self.id, key)
        if held is None:
            return
        same = held.get("digest_now") == digest_now
        result.add(
            WARN,
            "baseline_missing",
            f"The baseline Variable '{key}' of {month}, {baselines.describe(held)} and held at the last "
            f"promotion, is gone (deleted, or unreadable after a Fernet key change). The month's totals "
            + ("still give the same digest" if same else f"now give digest {digest_now}: they changed since")
            + "; this run compares them with nothing and records them again. Restore the Variable from a "
            "backup if it was not deleted on purpose.",
            variable=key,
            held_digest=held.get("digest_now"),
            digest_now=digest_now,
            same_totals=same,
        )

    def parts(self):
        from billing_readiness.checks.invoice_immutability import render, verdict

        return verdict.Details, render


CHECK = InvoiceImmutability()


def _late_arrivals_unchecked(month) -> str:
    return f"late arrivals in {month} not checked: no ingestion-time column (config usage_events.ingested_at)"
