"""Check 2's verdict: invoice lines, the reads compared, and the month compared with its baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billing_readiness.checks.invoice_immutability.closed_month import (
    LateArrival,
    Mutation,
    late_arrivals,
    late_rows,
    mutations,
    mutations_scope,
)
from billing_readiness.checks.invoice_immutability.invoice import InvoiceLine, Totals, invoice_lines, totals
from billing_readiness.checks.invoice_immutability.settings import LATE_ARRIVAL_GRACE_SECONDS
from billing_readiness.core import cost_values
from billing_readiness.core.money import CENT, to_cents
from billing_readiness.core.results import FAIL, INFO, WARN, CheckResult
from billing_readiness.core.timewindow import Month


@dataclass
class Difference:
    """One tenant's invoice disagreeing with another reading of it (the report's difference table)."""

    tenant: str
    month: str
    finding: str
    before: str  # the reference: read 1, usage_events, or the baseline
    now: str


@dataclass
class Details:
    month: str
    invoice_lines: list[InvoiceLine] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    baseline: str = ""  # in words: recorded, compared with ..., or why it was not recorded
    baseline_variable: str = ""
    invoice_csv: str = ""  # the CSV's file name beside the report
    late_arrivals: list[LateArrival] = field(default_factory=list)
    mutations: list[Mutation] = field(default_factory=list)


def _differ(
    result: CheckResult, code: str, tenant: str, month: Month, before: str, now: str, message: str, **evidence: Any
) -> None:
    result.add(FAIL, code, message, tenant=tenant, month=str(month), before=before, now=now, **evidence)
    result.details.differences.append(Difference(tenant, str(month), code, before, now))


def _compare(result, code, sides: tuple[tuple[str, Totals], tuple[str, Totals]], tol, month, why) -> None:
    """Per tenant, the two sides' totals (label, totals) must agree: queries and tokens exactly, cost within `tol`."""
    (label_a, a), (label_b, b) = sides
    for t in sorted(set(a) | set(b)):
        qa, ta, ca = a.get(t, (0, 0, Decimal(0)))
        qb, tb, cb = b.get(t, (0, 0, Decimal(0)))
        if qa != qb or ta != tb or abs(ca - cb) > tol:
            _differ(
                result,
                code,
                t,
                month,
                f"{label_a}: ${ca:.6f}, {qa} queries, {ta} tokens",
                f"{label_b}: ${cb:.6f}, {qb} queries, {tb} tokens",
                f"Tenant '{t}', {month}: {label_a} gives ${ca:.6f} ({qa} queries, {ta} tokens) but "
                f"{label_b} gives ${cb:.6f} ({qb} queries, {tb} tokens); difference ${abs(ca - cb):.6f}, "
                f"tolerance ${tol}. {why}",
            )


def evaluate(
    result: CheckResult,
    rows: dict[str, list[dict[str, Any]]],
    month: Month,
    tolerance_usd: Decimal = CENT,
    baseline: dict | None = None,
    *,
    late_arrival_grace_s: int = LATE_ARRIVAL_GRACE_SECONDS,
    accepted_mutations: tuple[str, ...] | list[str] = (),
    cluster: str | None = None,
    negative: str = "warn",
    ingestion_column: bool = True,
) -> CheckResult:
    """Fill `result`; `baseline` is what an earlier run recorded for `month` (None: first time seen).

    Late arrivals come from `rows["late"]` or the invoice read's late columns; neither is there when the
    events table has no ingestion-time column."""
    active = sorted({r["tenant_id"] for r in rows["active"]})
    values = rows.get("values", [])
    cost_values.add_findings(result, values, str(month), negative)
    unbillable = set(cost_values.non_finite_days(values))  # failed above; no figure is computed from them
    a = _billable(rows["raw"], unbillable)
    finite_rollup, broken = _finite_rollup(result, rows["rollup"], unbillable, month)
    rollup = totals(finite_rollup, cost_column="total_cost_usd")
    result.details = details = Details(str(month), invoice_lines(active, a, month))
    billed = sum((a[t][2] for t in active if t in a), Decimal(0))
    result.metrics.update(
        month=str(month),
        active_tenants=len(active),
        tenants_with_usage=sum(1 for t in active if t in a),
        zero_usage_tenants=sum(1 for t in active if t not in a),
        total_billed_usd=f"{to_cents(billed):.2f}",
        tolerance_usd=str(tolerance_usd),
    )
    if not active:
        result.add(FAIL, "no_active_tenants", "No active tenants: there is no invoice to regenerate.")
    elif not a and not unbillable:
        result.add(
            FAIL,
            "no_usage_in_month",
            f"No usage rows at all in {month} ({month.first_day} .. {month.last_day}, {month.tz}): "
            "nothing to regenerate, so immutability cannot be shown.",
            month=str(month),
        )
    else:
        # usage_daily is compared with the events over its own days (another zone's month when they differ)
        same_days = _billable(rows["raw_rollup_zone"], unbillable) if "raw_rollup_zone" in rows else a
        _lines_and_reads(result, active, a, rollup, month, tolerance_usd, skip=broken, same_days=same_days)
        details.late_arrivals = late_arrivals(result, late_rows(rows), month, late_arrival_grace_s)
        mutations_scope(result, rows.get("distributed", []), cluster)
        details.mutations = mutations(result, rows["mutations"], month, list(accepted_mutations))
        if baseline is not None:
            details.baseline = f"compared with the baseline recorded {baseline.get('recorded_at', '?')}"
            _against_baseline(result, baseline, a, active, month, tolerance_usd, ingestion_column)
    _baseline_note(result, baseline, month)
    if result.passed:
        result.add(INFO, "ok", f"{month}: {len(active)} invoice lines, ${to_cents(billed):.2f} in all, reproducible.")
    return result


def _billable(rows: list[dict[str, Any]], unbillable: set[str]) -> Totals:
    """The totals of the tenants whose costs are all finite (the others fail on their values)."""
    return totals([r for r in rows if r["tenant_id"] not in unbillable])


def _baseline_note(result: CheckResult, baseline: dict | None, month: Month) -> None:
    """A first run that passed records the month (said as a finding); one that failed says why it cannot."""
    details = result.details
    if baseline is None and result.passed:
        details.baseline = "recorded: first run to see this month"
        result.add(
            INFO,
            "baseline_recorded",
            f"First run to see {month}: its totals are recorded as the baseline; "
            "later runs must reproduce them within the tolerance.",
            month=str(month),
        )
    elif baseline is None:
        found = ", ".join(sorted({f.code for f in result.failures}))
        details.baseline = f"not recorded: this run found {found}, so its totals cannot be the reference"


def _finite_rollup(
    result, rows: list[dict[str, Any]], unbillable: set[str], month: Month
) -> tuple[list[dict[str, Any]], set[str]]:
    """The rollup's totals that a bill can be made of, and the tenants whose rollup total is non-finite while
    their events are finite (a rollup defect of its own); a tenant whose events hold non-finite values is
    already failed and left out of both."""
    out, broken = [], set()
    for r in rows:
        if r["tenant_id"] in unbillable:
            continue
        if not (math.isfinite(float(r["total_cost_usd"])) and math.isfinite(float(r["total_tokens"]))):
            result.add(
                FAIL,
                "rollup_non_finite",
                f"Tenant '{r['tenant_id']}', {month}: usage_daily holds a non-finite total "
                f"(cost {r['total_cost_usd']}, tokens {r['total_tokens']}) while its events are finite: "
                "the rollup cannot regenerate the invoice.",
                tenant=r["tenant_id"],
                month=str(month),
            )
            broken.add(r["tenant_id"])
            continue
        out.append(r)
    return out, broken


def _lines_and_reads(
    result,
    active,
    a: Totals,
    rollup: Totals,
    month,
    tol,
    skip: set[str] | frozenset[str] = frozenset(),
    same_days: Totals | None = None,
) -> None:
    for t in active:
        if t not in a:
            result.add(
                INFO,
                "zero_usage_tenant",
                f"Tenant '{t}' has no usage in {month}: $0.00 invoice line.",
                tenant=t,
                month=str(month),
            )
    for t in sorted(set(a) - set(active)):
        result.add(
            WARN,
            "usage_not_invoiced",
            f"Tenant '{t}' has ${a[t][2]:.2f} of usage in {month} but is not an active tenant: it is on no invoice.",
            tenant=t,
            month=str(month),
            cost_usd=f"{a[t][2]:.2f}",
        )
    events = same_days if same_days is not None else a
    events = {t: v for t, v in events.items() if t not in skip}  # a non-finite rollup total: its own finding
    _compare(
        result,
        "invoice_rollup_mismatch",
        (("usage_events", events), ("usage_daily", rollup)),
        tol,
        month,
        "The rollup would bill a different amount than the raw events.",
    )


def _against_baseline(
    result, baseline: dict, now: Totals, active: list[str], month: Month, tol: Decimal, ingestion_column: bool = True
) -> None:
    old_lines = baseline.get("lines", {})
    recorded = baseline.get("recorded_at", "an earlier run")
    # Without an ingestion-time column a late backfill cannot be told from a re-pricing: say what would tell them.
    which = (
        ""
        if ingestion_column
        else (
            " This events table has no ingestion-time column (config usage_events.ingested_at is null), so whether "
            "rows were backfilled late or re-priced cannot be told; set usage_events.ingested_at to the column that "
            "records when a row was written."
        )
    )
    for t in sorted(set(old_lines) | set(active)):
        old = old_lines.get(t)
        q, tok, cost = now.get(t, (0, 0, Decimal(0)))
        if old is None:
            # A tenant that was not active when the baseline was taken: only its usage in a closed month is news.
            if q or tok or cost:
                _differ(
                    result,
                    "closed_month_changed",
                    t,
                    month,
                    "no line (0.00)",
                    f"{cost:.2f}",
                    f"Tenant '{t}', {month}: no invoice line when the baseline was recorded ({recorded}), "
                    f"now ${cost:.2f} ({q} queries, {tok} tokens): usage was backfilled into a closed month." + which,
                    old_total="0.00",
                    new_total=f"{cost:.2f}",
                    old_queries=0,
                    new_queries=q,
                )
            continue
        old_cost = Decimal(old["exact_cost_usd"])
        if old["total_queries"] != q or old["total_tokens"] != tok or abs(old_cost - cost) > tol:
            _differ(
                result,
                "closed_month_changed",
                t,
                month,
                f"{to_cents(old_cost):.2f}",
                f"{to_cents(cost):.2f}",
                f"Tenant '{t}', {month}: total was ${to_cents(old_cost):.2f} ({old['total_queries']} queries, "
                f"{old['total_tokens']} tokens) when first seen ({recorded}), now ${to_cents(cost):.2f} "
                f"({q} queries, {tok} tokens): stored costs of a closed month changed "
                "(cost mutation or late backfill)." + which,
                old_total=f"{to_cents(old_cost):.2f}",
                new_total=f"{to_cents(cost):.2f}",
                old_queries=old["total_queries"],
                new_queries=q,
                old_tokens=old["total_tokens"],
                new_tokens=tok,
            )
